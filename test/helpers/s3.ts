/**
 * An S3-compatible server for tests: s3rver (npm) on a free loopback port with its objects in
 * a temporary folder, one bucket made, removed afterwards. It runs in a process of its own
 * (s3-process.mjs), as a real store would, so that its work does not slow the event loop of
 * the test or bench that drives the daemons. It accepts the credentials `S3RVER`/`S3RVER`
 * and path-style addressing. What it does not do (wave2 §5.2): conditional writes
 * (`If-None-Match: *` is ignored), which is why pyrepo never relies on them.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

const SCRIPT = fileURLToPath(new URL('./s3-process.mjs', import.meta.url));

export async function startS3(opts: { bucket?: string } = {}): Promise<S3Server> {
  const dir = mkdtempSync(join(tmpdir(), 'pyrepo-s3-'));
  const port = await freePort();
  const bucket = opts.bucket ?? 'pyrepo-test';
  const child = spawn(process.execPath, [SCRIPT, String(port), dir, bucket], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit');
  try {
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => chunk.includes('ready') && resolve());
      void exited.then(([code]) => reject(new Error(`s3rver exited (${String(code)}) before it listened: ${stderr}`)));
      setTimeout(() => reject(new Error(`s3rver did not listen within 20 s: ${stderr}`)), 20_000).unref();
    });
    await ready;
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: endpoint },
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
