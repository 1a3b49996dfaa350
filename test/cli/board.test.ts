import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { BoardOutputSchema } from '../../src/cli/json-output.js';
import { boardGuide, lanAddresses } from '../../src/cli/services/board.js';

const LAN = [
  { address: '192.168.1.20', interface: 'wlan0' },
  { address: '10.0.0.5', interface: 'eth0' },
];

describe('pyrepo board: the guide', () => {
  it('lists the non-internal IPv4 addresses only', () => {
    const found = lanAddresses({
      lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true, netmask: '255.0.0.0', mac: '', cidr: null }],
      eth0: [
        { address: '10.0.0.5', family: 'IPv4', internal: false, netmask: '255.0.0.0', mac: '', cidr: null },
        { address: 'fe80::1', family: 'IPv6', internal: false, netmask: 'ffff::', mac: '', cidr: null, scopeid: 2 },
      ],
    });
    expect(found).toEqual([{ address: '10.0.0.5', interface: 'eth0' }]);
  });

  it('gives mip, upip and mpremote lines per address for a daemon on every address, with no warning when boards get through', () => {
    const g = boardGuide({ state: { url: 'http://127.0.0.1:8645', host: '0.0.0.0', port: 8645 }, addresses: LAN, anonymous: { list: true, download: true }, project: 'sensor-lib' });
    expect(Value.Check(BoardOutputSchema, g)).toBe(true);
    expect(g.warnings).toEqual([]);
    expect(g.reachable).toBe(true);
    expect(g.addresses.map((a) => a.baseUrl)).toEqual(['http://192.168.1.20:8645', 'http://10.0.0.5:8645']);
    expect(g.addresses[0]?.mip).toEqual(['import mip', 'mip.install("sensor-lib", index="http://192.168.1.20:8645/mip")']);
    expect(g.addresses[0]?.upip).toEqual(['import upip', 'upip.index_urls = ["http://192.168.1.20:8645"]', 'upip.install("sensor-lib")']);
    expect(g.mpremote).toBe('mpremote mip install --index http://127.0.0.1:8645/mip sensor-lib');
  });

  it('uses only the address a daemon is bound to', () => {
    const g = boardGuide({ state: { url: 'http://10.0.0.5:8645', host: '10.0.0.5', port: 8645 }, addresses: LAN, anonymous: {} });
    expect(g.addresses.map((a) => a.address)).toEqual(['10.0.0.5']);
    expect(g.project).toBe('PACKAGE');
  });

  it('warns about loopback, credentials, a missing network and certificates, pointing at --lan', () => {
    const g = boardGuide({ state: { url: 'https://127.0.0.1:8645', host: '127.0.0.1', port: 8645 }, addresses: [], anonymous: { list: false, download: false } });
    expect(g.reachable).toBe(false);
    expect(g.warnings).toHaveLength(4);
    expect(g.warnings[0]).toMatch(/listens on 127\.0\.0\.1 only.*pyrepo restart --lan/);
    expect(g.warnings[1]).toMatch(/^The index and downloads need credentials/);
    expect(g.warnings[2]).toMatch(/no IPv4 network address/);
    expect(g.warnings[3]).toMatch(/certificates/);
  });
});
