/**
 * The shared mode collects the bucket's orphans: contents no file row names (an upload that
 * lost a race, a file deleted), once they are older than the grace period, never a content a
 * row names, and one daemon at a time. Real PostgreSQL (a throwaway cluster) and s3rver.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedIndex } from '../../src/daemon/services/shared-index.js';
import { hashBytes } from '../../src/daemon/services/hashing.js';
import type { FileRecord } from '../../src/daemon/services/catalog.js';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { startS3, type S3Server } from '../helpers/s3.js';

let cluster: PostgresCluster;
let s3: S3Server;
let dir: string;
const opened: SharedIndex[] = [];

beforeAll(async () => {
  [cluster, s3] = await Promise.all([startPostgres(), startS3()]);
  // The AWS SDK reads the endpoint and credentials from the environment, as a daemon's does.
  Object.assign(process.env, s3.env);
  dir = mkdtempSync(join(tmpdir(), 'pyrepo-orphans-'));
}, 60_000);

afterAll(async () => {
  for (const s of opened) await s.close();
  await cluster?.destroy();
  await s3?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(name: string): Promise<SharedIndex> {
  const shared = await SharedIndex.open({ catalogUrl: cluster.url, storageUrl: `s3://${s3.bucket}/orphans`, spoolDir: join(dir, name), log: pino({ level: 'silent' }) });
  opened.push(shared);
  return shared;
}

function record(filename: string, sha256: string, size: number): FileRecord {
  return {
    filename, relpath: filename, project: 'orphan-lib', version: '1.0', releaseKey: '1', packagetype: 'bdist_wheel', pythonVersion: 'py3',
    size, mtimeMs: 0, sha256, md5: '0'.repeat(32), blake2b256: '0'.repeat(64), requiresPython: null, metadataSha256: null,
    uploadTime: new Date().toISOString(), source: 'upload', uploadedBy: 'ann', uploadedFrom: '127.0.0.1',
  } as FileRecord;
}

describe('orphaned blobs in the shared mode', () => {
  it('deletes what no row names once it is old enough, keeps what a row names, and lets one daemon collect at a time', async () => {
    const [one, two] = [await open('one'), await open('two')];
    const kept = Buffer.from('the content a file row names');
    const lost = Buffer.from('an upload that lost its race');
    const paths = [join(dir, 'kept.bin'), join(dir, 'lost.bin')];
    writeFileSync(paths[0] as string, kept);
    writeFileSync(paths[1] as string, lost);
    const keptDigest = await hashBytes(kept);
    await one.publish(paths[0] as string, record('orphan_lib-1.0-py3-none-any.whl', keptDigest.sha256, kept.length), 'orphan-lib', Buffer.from('Metadata-Version: 2.1\n'), { replace: false });
    const lostKey = await one.blobs.putFile(paths[1] as string, (await hashBytes(lost)).sha256);
    const keys = async () => {
      const all: string[] = [];
      for await (const b of one.blobs.list()) all.push(b.key);
      return all.sort();
    };
    expect(await keys()).toHaveLength(2);
    // Younger than the grace period: an upload that may still be on its way.
    expect(await one.collectOrphans()).toBe(0);
    // Two daemons at once: one collects, the other is told someone else does.
    const [a, b] = await Promise.all([one.collectOrphans(0), two.collectOrphans(0)]);
    expect([a, b].filter((n) => n === undefined).length).toBeLessThanOrEqual(1);
    expect((a ?? 0) + (b ?? 0)).toBe(1);
    expect(await keys()).toEqual([one.blobs.keyOf(keptDigest.sha256)]);
    expect(await keys()).not.toContain(lostKey);
  });
});
