/**
 * An S3-compatible server for tests: s3rver (npm) on a free loopback port with its objects in
 * a temporary folder, one bucket made, removed afterwards. It accepts the credentials
 * `S3RVER`/`S3RVER` and path-style addressing. What it does not do (wave2 §5.2): conditional
 * writes (`If-None-Match: *` is ignored), which is why pyrepo never relies on them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { freePort } from './net.js';

export interface S3Server {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  bucket: string;
  /** The AWS environment variables a client (or a daemon) needs to reach it. */
  env: Record<string, string>;
  /** Stops it and removes its folder. */
  close(): Promise<void>;
}

export async function startS3(opts: { bucket?: string } = {}): Promise<S3Server> {
  const dir = mkdtempSync(join(tmpdir(), 'pyrepo-s3-'));
  const port = await freePort();
  const bucket = opts.bucket ?? 'pyrepo-test';
  const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory: dir, configureBuckets: [{ name: bucket, configs: [] }] });
  try {
    await server.run();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: endpoint },
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
