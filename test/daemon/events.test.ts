/**
 * `/-/events` as a reconnecting client meets it, over real HTTP with the shared client:
 * every event has an increasing id; a reconnection with Last-Event-ID gets exactly what
 * was missed, or one `resync` when that is gone or from before a restart; ids keep
 * increasing across a restart; downloads come batched, each counted once, by installer
 * and CI; and the control API's answers name the event they reflect, counts not yet
 * written included.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IndexEvent, ProjectDetail, ProjectList } from '../../src/shared/api.js';
import { DaemonClient } from '../../src/shared/client.js';
import { DownloadBatch } from '../../src/daemon/services/download-batch.js';
import { EventBus, type NumberedEvent } from '../../src/daemon/services/events.js';
import { makeApp, upload, type MakeAppOptions, type TestApp } from '../helpers/app.js';
import { until } from '../tui/helpers/wait.js';

const apps: TestApp[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) {
    // fetch keeps a spare idle connection for a few seconds, which close() would wait for.
    a.app.server.closeAllConnections();
    await a.close();
  }
});

async function serve(options: MakeAppOptions = {}, dirs: { dataDir?: string; packagesDir?: string } = {}) {
  const t = await makeApp({ authenticate: [], ...dirs }, options);
  apps.push(t);
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  return { t, base, client: new DaemonClient(base, { authorization: t.adminAuth }) };
}

interface Got {
  event: IndexEvent;
  id: string | undefined;
}

/** Follows the stream until stop(); what arrived is in `got`. */
async function follow(client: DaemonClient, lastEventId?: string) {
  const got: Got[] = [];
  const controller = new AbortController();
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const done = client
    .events({ signal: controller.signal, ...(lastEventId !== undefined ? { lastEventId } : {}), onOpen: opened, onEvent: (event, id) => got.push({ event, id }) })
    .catch((err: unknown) => err);
  await open;
  return {
    got,
    waitFor: (what: string, pred: (g: Got) => boolean) => until(what, () => got.find(pred)),
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

const fileOf = (g: Got) => ('filename' in g.event ? g.event.filename : g.event.type === 'yank' ? `yank ${g.event.version}` : g.event.type);

describe('event ids', () => {
  it('increase by one, and a reconnection with Last-Event-ID gets exactly the events it missed, then the live ones', async () => {
    const { t, client } = await serve();
    const first = await follow(client);
    const one = await upload(t.app, { name: 'Ev-One', version: '1.0' });
    const seen = await first.waitFor('the first upload', (g) => g.event.type === 'upload');
    const subscribed = t.app.events.subscribers;
    await first.stop();
    expect(seen.id).toMatch(/^\d+$/);
    // A client that goes away is dropped at once, not at the next heartbeat.
    await until('the stream to be dropped', () => t.app.events.subscribers === subscribed - 1, 2000);

    // Missed while away: two uploads and a yank.
    const two = await upload(t.app, { name: 'Ev-Two', version: '1.0' });
    const three = await upload(t.app, { name: 'Ev-Two', version: '2.0' }, 'sdist');
    expect((await t.app.inject({ method: 'POST', url: '/-/api/projects/ev-two/releases/2.0/yank', payload: { reason: 'r' } })).statusCode).toBe(200);

    const again = await follow(client, seen.id);
    await again.waitFor('the yank', (g) => g.event.type === 'yank');
    const four = await upload(t.app, { name: 'Ev-Two', version: '3.0' });
    await again.waitFor('the live upload', (g) => fileOf(g) === four.filename);
    await again.stop();
    expect(again.got.map(fileOf)).toEqual([two.filename, three.filename, 'yank 2.0', four.filename]);
    const ids = again.got.map((g) => Number(g.id));
    expect(ids).toEqual([1, 2, 3, 4].map((n) => Number(seen.id) + n));
    expect(again.got.some((g) => fileOf(g) === one.filename)).toBe(false);

    // Up to date: nothing is replayed.
    const current = await follow(client, again.got.at(-1)?.id);
    const five = await upload(t.app, { name: 'Ev-Two', version: '4.0' });
    await current.waitFor('the next upload', (g) => fileOf(g) === five.filename);
    await current.stop();
    expect(current.got.map(fileOf)).toEqual([five.filename]);
  });

  it('on a change of the catalog carry its serial: the `_last-serial` of the JSON page that first shows it', async () => {
    const { t, client } = await serve();
    const stream = await follow(client);
    const lastSerial = async (name: string) => {
      const res = await t.app.inject({ url: `/simple/${name}/`, headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
      return (JSON.parse(res.body) as { meta: { '_last-serial': number } }).meta['_last-serial'];
    };
    const one = await upload(t.app, { name: 'Serials', version: '1.0' });
    const uploaded = await stream.waitFor('the upload', (g) => fileOf(g) === one.filename);
    const afterUpload = await lastSerial('serials');
    expect((await t.app.inject({ method: 'POST', url: '/-/api/projects/serials/releases/1.0/yank', payload: { reason: 'r' } })).statusCode).toBe(200);
    const yanked = await stream.waitFor('the yank', (g) => g.event.type === 'yank');
    const afterYank = await lastSerial('serials');
    await upload(t.app, { name: 'Serials', version: '2.0' });
    expect((await t.app.inject({ method: 'DELETE', url: `/-/api/projects/serials/files/${one.filename}` })).statusCode).toBe(200);
    const deleted = await stream.waitFor('the deletion', (g) => g.event.type === 'delete');
    const afterDelete = await lastSerial('serials');
    // A download is no change of the catalog: its event has no serial.
    expect((await t.app.inject({ url: `/packages/${one.filename.replace('1.0', '2.0')}` })).statusCode).toBe(200);
    const downloaded = await stream.waitFor('the download', (g) => g.event.type === 'downloads');
    await stream.stop();
    const serialOf = (g: Got) => (g.event as { serial?: number }).serial;
    expect([serialOf(uploaded), serialOf(yanked), serialOf(deleted)]).toEqual([afterUpload, afterYank, afterDelete]);
    expect(afterUpload).toBeGreaterThan(0);
    expect(afterYank).toBeGreaterThan(afterUpload);
    expect(afterDelete).toBeGreaterThan(afterYank + 1);
    expect(serialOf(downloaded)).toBeUndefined();
  });

  it('answer an id it cannot replay from with one resync event carrying the current position', async () => {
    const { t, client } = await serve({ events: { ringSize: 2 } });
    const watch = await follow(client);
    await upload(t.app, { name: 'Ring', version: '1.0' });
    const start = await watch.waitFor('an upload', (g) => g.event.type === 'upload');
    for (const v of ['2.0', '3.0', '4.0']) await upload(t.app, { name: 'Ring', version: v });
    const last = await watch.waitFor('the fourth upload', (g) => 'version' in g.event && g.event.version === '4.0');
    await watch.stop();

    const cases: [string, string][] = [
      [start.id as string, 'expired'],
      [String(Number(start.id) - 1_000_000_000), 'restarted'],
      [String(Number(last.id) + 5), 'unknown'],
      ['not-a-number', 'unknown'],
    ];
    for (const [from, reason] of cases) {
      const s = await follow(client, from);
      const resync = await s.waitFor(`a resync for ${from}`, (g) => g.event.type === 'resync');
      await s.stop();
      expect(resync.event).toMatchObject({ type: 'resync', reason });
      expect(resync.id).toBe(last.id);
      expect(s.got).toHaveLength(1);
    }
    // Two back is still in the ring of two.
    const ok = await follow(client, String(Number(last.id) - 2));
    await ok.waitFor('the replay', (g) => g.id === last.id);
    await ok.stop();
    expect(ok.got.map((g) => g.event.type)).toEqual(['upload', 'upload']);
  });

  it('keep increasing across a restart, and an id of the earlier run gets resync "restarted"', async () => {
    const first = await serve();
    const watch = await follow(first.client);
    await upload(first.t.app, { name: 'Restarted', version: '1.0' });
    const before = await watch.waitFor('an upload', (g) => g.event.type === 'upload');
    await watch.stop();
    const { dataDir, packagesDir } = first.t;
    await first.t.close({ keepFiles: true });
    apps.splice(apps.indexOf(first.t), 1);

    const second = await serve({}, { dataDir, packagesDir });
    const list = (await second.client.listProjects()) as ProjectList;
    expect(BigInt(list.lastEventId)).toBeGreaterThan(BigInt(before.id as string));
    const resumed = await follow(second.client, before.id);
    const resync = await resumed.waitFor('a resync', (g) => g.event.type === 'resync');
    await upload(second.t.app, { name: 'Restarted', version: '2.0' });
    const after = await resumed.waitFor('the new upload', (g) => g.event.type === 'upload');
    await resumed.stop();
    expect(resync.event).toMatchObject({ reason: 'restarted' });
    expect(resync.id).toBe(list.lastEventId);
    expect(BigInt(after.id as string)).toBe(BigInt(list.lastEventId) + 1n);
  });

  it('are kept for replay within a size bound: a load of large download events does not grow the memory, and an id older than what is kept gets "expired"', () => {
    const bus = new EventBus({ now: () => 1_000, ringChars: 50_000 });
    const files = Array.from({ length: 100 }, (_, i) => ({ project: 'demo', filename: `demo-${i}.whl`, downloads: 1, installers: [{ installer: 'pip' as const, downloads: 1, ci: 0 }] }));
    const ids = Array.from({ length: 200 }, () => bus.publish({ type: 'downloads', files }).id);
    const size = JSON.stringify({ type: 'downloads', files, time: new Date().toISOString() }).length;
    // As many events as fit the size are replayed, not the 4,096 of the count bound.
    const fit = Math.floor(50_000 / size);
    const all = bus.since(String((ids[ids.length - fit] as number) - 1));
    expect('events' in all && all.events.length).toBe(fit);
    expect(bus.since(String((ids[ids.length - fit] as number) - 2))).toEqual({ resync: 'expired' });
    expect(bus.since(String(ids[0]))).toEqual({ resync: 'expired' });
    const recent = bus.since(String(ids[ids.length - 3]));
    expect('events' in recent && recent.events.map((e) => e.id)).toEqual(ids.slice(-2));
    // A single event larger than the bound is still kept until the next one.
    const big = new EventBus({ now: () => 1_000, ringChars: 10 });
    const only = big.publish({ type: 'downloads', files }).id;
    expect(big.since(String(only - 1))).toEqual({ events: [expect.objectContaining({ id: only })] });
  });

  it("keep a downloads event packed, make its JSON only when it is read, and bound the ring by an estimate within 5% of it", () => {
    const bus = new EventBus({ now: () => 1_000 });
    let numbered: (NumberedEvent & { chars: number }) | undefined;
    const batch = new DownloadBatch((packed) => (numbered = bus.publishDownloads(packed) as NumberedEvent & { chars: number }), 60_000);
    const pip = { installer: 'pip' as const, ci: false };
    for (let i = 0; i < 500; i++) {
      const file = { project: `project-${i}`, filename: `project_${i}-1.${i}.0-py3-none-any.whl` };
      for (let n = 0; n < 1 + (i % 3) * 9; n++) batch.add(file, { ...pip, ci: n % 2 === 1 });
      if (i % 4 === 0) for (let n = 0; n < 20; n++) batch.add(file, { installer: 'uv', ci: false });
    }
    batch.flush();
    if (!numbered) throw new Error('no event was published');
    expect(Object.getOwnPropertyDescriptor(numbered, 'text')?.value).toBeUndefined();
    const event = numbered.event;
    if (event.type !== 'downloads') throw new Error(`a ${event.type} event`);
    expect(event.files).toHaveLength(500);
    expect(event.files[0]).toEqual({ project: 'project-0', filename: 'project_0-1.0.0-py3-none-any.whl', downloads: 21, installers: [{ installer: 'uv', downloads: 20, ci: 0 }, { installer: 'pip', downloads: 1, ci: 0 }] });
    expect(event.files[2]).toEqual({ project: 'project-2', filename: 'project_2-1.2.0-py3-none-any.whl', downloads: 19, installers: [{ installer: 'pip', downloads: 19, ci: 9 }] });
    // Made anew each time it is read: the ring holds no list of objects; the projects are there without it.
    expect(event.files).not.toBe(event.files);
    expect(event.files).toEqual(event.files);
    expect([...(numbered.projects ?? [])]).toEqual(event.files.map((f) => f.project));
    expect([...(numbered.projects ?? [])]).toEqual(event.files.map((f) => f.project));
    expect(numbered.json).toBe(JSON.stringify(event));
    expect(Math.abs(numbered.chars / numbered.json.length - 1)).toBeLessThan(0.05);
  });

  it('start above the last id an earlier run kept, even when the clock went back', () => {
    const bus = new EventBus({ previousId: 5_000_000_000_000_000, now: () => 1_000 });
    expect(bus.startId).toBe(5_000_000_000_000_001);
    expect(bus.publish({ type: 'resync', reason: 'unknown' }).id).toBe(5_000_000_000_000_002);
    expect(new EventBus({ previousId: 7, now: () => 1_700_000_000_000 }).startId).toBe(1_700_000_000_000_000);
  });
});

describe('downloads', () => {
  const PIP_CI = 'pip/23.2.1 {"ci":true,"cpu":"x86_64","installer":{"name":"pip","version":"23.2.1"},"python":"3.11.7"}';
  const PIP = 'pip/23.0.1 {"ci":null,"installer":{"name":"pip","version":"23.0.1"},"python":"3.11.2"}';
  const UV = 'uv/0.4.18 {"installer":{"name":"uv","version":"0.4.18"},"python":"3.12.6","ci":true}';

  it('come as a few batched events, each download counted once, by installer and CI', async () => {
    const { t, base, client } = await serve();
    const wheel = await upload(t.app, { name: 'Burst', version: '1.0' });
    const sdist = await upload(t.app, { name: 'Burst', version: '1.0' }, 'sdist');
    const watch = await follow(client);
    const agents = [PIP_CI, PIP, UV, 'pdm/2.2.1 CPython/3.11.2', 'poetry/1.8.3 CPython/3.12.1 Linux/6.1.0', 'python-requests/2.28.1', undefined];
    const requests = [];
    for (let i = 0; i < 70; i++) {
      const ua = agents[i % agents.length];
      const file = i % 2 === 0 ? wheel.filename : sdist.filename;
      requests.push(fetch(`${base}/packages/${file}`, ua ? { headers: { 'user-agent': ua } } : {}).then((r) => r.arrayBuffer()));
    }
    await Promise.all(requests);
    const counted = () => watch.got.flatMap((g) => (g.event.type === 'downloads' ? g.event.files : [])).reduce((a, f) => a + f.downloads, 0);
    await until('all 70 downloads in events', () => counted() >= 70);
    // The list publishes what is still gathered: nothing is left to come.
    await client.listProjects();
    await watch.stop();
    const batches = watch.got.filter((g) => g.event.type === 'downloads');
    expect(counted()).toBe(70);
    expect(batches.length).toBeLessThan(10);
    const byInstaller = new Map<string, { downloads: number; ci: number }>();
    for (const g of batches) {
      if (g.event.type !== 'downloads') continue;
      for (const f of g.event.files) {
        expect(f.installers.reduce((a, c) => a + c.downloads, 0)).toBe(f.downloads);
        for (const c of f.installers) {
          const sum = byInstaller.get(c.installer) ?? { downloads: 0, ci: 0 };
          byInstaller.set(c.installer, { downloads: sum.downloads + c.downloads, ci: sum.ci + c.ci });
        }
      }
    }
    expect(Object.fromEntries(byInstaller)).toEqual({
      pip: { downloads: 20, ci: 10 },
      uv: { downloads: 10, ci: 10 },
      pdm: { downloads: 10, ci: 0 },
      poetry: { downloads: 10, ci: 0 },
      other: { downloads: 20, ci: 0 },
    });
    const detail = (await client.project('burst')) as ProjectDetail;
    expect(detail.downloads).toBe(70);
    expect(detail.downloadsByInstaller).toEqual([
      { installer: 'pip', downloads: 20, ci: 10 },
      { installer: 'other', downloads: 20, ci: 0 },
      { installer: 'uv', downloads: 10, ci: 10 },
      { installer: 'poetry', downloads: 10, ci: 0 },
      { installer: 'pdm', downloads: 10, ci: 0 },
    ]);
  });

  it('are in the project list before they are written, with the event id the list reflects, today last in the 30 days', async () => {
    const { t, base, client } = await serve({ events: { downloadBatchMs: 60_000 } });
    const wheel = await upload(t.app, { name: 'Listed', version: '1.0' });
    const watch = await follow(client);
    for (let i = 0; i < 3; i++) await fetch(`${base}/packages/${wheel.filename}`).then((r) => r.arrayBuffer());
    // Nothing written, no event yet (the batch waits a minute here): the list has them anyway.
    const list = await client.listProjects();
    const p = list.projects.find((x) => x.name === 'listed');
    expect(p).toMatchObject({ downloads: 3, lastUploadedBy: null });
    expect(p?.downloads30d).toHaveLength(30);
    expect(p?.downloads30d.at(-1)).toBe(3);
    expect(p?.downloads30d.slice(0, -1).every((n) => n === 0)).toBe(true);
    // …and named the event that carries them: the list reflects it.
    const batch = await watch.waitFor('the downloads event', (g) => g.event.type === 'downloads');
    expect(batch.id).toBe(list.lastEventId);
    // The detail too, and later downloads are in later events only.
    await fetch(`${base}/packages/${wheel.filename}`).then((r) => r.arrayBuffer());
    const detail = await client.project('listed');
    expect(detail.downloads).toBe(4);
    expect(BigInt(detail.lastEventId)).toBe(BigInt(list.lastEventId) + 1n);
    await watch.waitFor('the second downloads event', (g) => g.id === detail.lastEventId);
    await watch.stop();
    expect(watch.got.map((g) => (g.event.type === 'downloads' ? g.event.files[0]?.downloads : g.event.type))).toEqual([3, 1]);
  });
});
