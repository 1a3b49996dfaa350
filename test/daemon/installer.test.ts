/** The installer and CI flag of a download, from the User-Agent each client really sends (captured; uv's as documented). */
import { describe, expect, it } from 'vitest';
import { downloadClientOf } from '../../src/daemon/services/installer.js';

const linehaul = (name: string, version: string, ci: boolean | null) =>
  `${name === 'pip' ? 'pip' : name}/${version} ${JSON.stringify({ ci, cpu: 'x86_64', implementation: { name: 'CPython', version: '3.11.7' }, installer: { name, version }, python: '3.11.7' })}`;

describe('downloadClientOf', () => {
  it.each([
    ['pip 23.2 (pyenv)', linehaul('pip', '23.2.1', null), 'pip', false],
    ['pip 23.2 with CI=true', linehaul('pip', '23.2.1', true), 'pip', true],
    ['pip 23.0 (Debian)', linehaul('pip', '23.0.1', null), 'pip', false],
    ['pipenv (its vendored pip 22.3)', linehaul('pip', '22.3.1', null), 'pip', false],
    ['uv', linehaul('uv', '0.4.18', true), 'uv', true],
    ['uv pip (newer uv)', linehaul('uv-pip', '0.9.9', null), 'uv', false],
    ['pdm 2.2', 'pdm/2.2.1 CPython/3.11.2', 'pdm', false],
    ['poetry 1.7 and later', 'poetry/1.8.3 CPython/3.12.1 Linux/6.1.0', 'poetry', false],
    ['poetry 1.3 (python-requests)', 'python-requests/2.28.1', 'other', false],
    ['curl', 'curl/8.5.0', 'other', false],
    ['a browser', 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0', 'other', false],
    ['pip with broken JSON', 'pip/24.0 {"installer": ', 'pip', false],
    ['JSON naming nothing known', 'x/1 {"installer":{"name":"hatch"},"ci":true}', 'other', true],
  ])('%s', (_what, ua, installer, ci) => {
    expect(downloadClientOf(ua)).toEqual({ installer, ci });
    // The second look comes from the cache and says the same.
    expect(downloadClientOf(ua)).toEqual({ installer, ci });
  });

  it('answers each agent for itself when agents alternate, long ones (not cached) included', () => {
    const long = `pip/24.0 ${JSON.stringify({ installer: { name: 'pip', version: '24.0' }, ci: true, pad: 'x'.repeat(3000) })}`;
    const asked: [string, string, boolean][] = [
      [linehaul('pip', '23.2.1', true), 'pip', true],
      ['pdm/2.2.1 CPython/3.11.2', 'pdm', false],
      [linehaul('pip', '23.2.1', true), 'pip', true],
      [long, 'pip', true],
      [long, 'pip', true],
      ['curl/8.5.0', 'other', false],
      [linehaul('uv', '0.4.18', false), 'uv', false],
      [linehaul('uv', '0.4.18', false), 'uv', false],
    ];
    for (const [ua, installer, ci] of asked) expect(downloadClientOf(ua)).toEqual({ installer, ci });
  });

  it('calls no User-Agent, or several, other', () => {
    expect(downloadClientOf(undefined)).toEqual({ installer: 'other', ci: false });
    expect(downloadClientOf('')).toEqual({ installer: 'other', ci: false });
    expect(downloadClientOf(['pip/1', 'uv/2'])).toEqual({ installer: 'other', ci: false });
  });
});
