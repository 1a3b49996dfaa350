/** The throwaway PostgreSQL cluster and S3 server the shared-mode tests run on. */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.js';
import { startS3, type S3Server } from '../helpers/s3.js';

describe('test services', () => {
  let cluster: PostgresCluster;
  let s3: S3Server;
  beforeAll(async () => {
    [cluster, s3] = await Promise.all([startPostgres(), startS3()]);
  });
  afterAll(async () => {
    await Promise.all([cluster?.destroy(), s3?.close()]);
  });

  it('PostgreSQL takes connections on loopback, delivers NOTIFY, and comes back after a stop', async () => {
    const listener = new pg.Client({ connectionString: cluster.url });
    await listener.connect();
    const heard = new Promise<string | undefined>((resolve) => listener.on('notification', (n) => resolve(n.payload)));
    await listener.query('LISTEN pyrepo');
    expect((await cluster.psql("SELECT pg_notify('pyrepo', '42'); SELECT 1")).trim()).toContain('1');
    expect(await heard).toBe('42');
    await listener.end();
    await cluster.stop();
    await expect(cluster.psql('SELECT 1')).rejects.toThrow();
    await cluster.start();
    expect((await cluster.psql('SELECT 2')).trim()).toBe('2');
  });

  it('the S3 server stores and returns objects by path-style addressing', async () => {
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      // s3rver stores aws-chunked bodies (the SDK's default trailing checksums) as they come.
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'a/b.txt', Body: 'hello' }));
    const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'a/b.txt', Range: 'bytes=1-3' }));
    expect(await got.Body?.transformToString()).toBe('ell');
    client.destroy();
  });
});
