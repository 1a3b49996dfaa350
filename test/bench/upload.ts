/**
 * Sequential uploads through the legacy upload API, the way twine sends them: one
 * multipart/form-data POST per file, over one keep-alive connection.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { buildWheel, wheelFilename } from '../helpers/dists.js';
import { UPLOAD_FILE_PREFIX } from './dataset.js';
import { BENCH_USER } from './daemon.js';

export interface UploadFile {
  filename: string;
  name: string;
  version: string;
  body: Buffer;
  boundary: string;
}

export interface UploadResult {
  attempted: number;
  uploaded: number;
  seconds: number;
  perSecond: number;
  /** Slowest single upload, in ms. */
  maxMs: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
  firstFailure?: string;
}

/** The project names uploads go to: their filenames start with UPLOAD_FILE_PREFIX. */
const UPLOAD_PROJECTS = 10;

/** A multipart/form-data body with the fields twine sends for a wheel. */
export function multipartBody(fields: [string, string][], file: { filename: string; data: Buffer }, boundary: string): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`, 'utf8'));
  }
  parts.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="content"; filename="${file.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      'utf8',
    ),
    file.data,
    Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'),
  );
  return Buffer.concat(parts);
}

/**
 * `count` new small wheels with unique names (`bench-upload-<k>` at version
 * `0.<stamp>.<i>`), as ready-to-send request bodies.
 */
export function makeUploads(count: number, stamp: number, first = 0): UploadFile[] {
  const files: UploadFile[] = [];
  for (let i = first; i < first + count; i++) {
    const name = `bench-upload-${i % UPLOAD_PROJECTS}`;
    const version = `0.${stamp}.${i}`;
    const spec = { name, version, summary: 'Benchmark upload', requiresPython: '>=3.8' };
    const data = buildWheel(spec);
    const filename = wheelFilename(spec);
    if (!filename.startsWith(UPLOAD_FILE_PREFIX)) throw new Error(`Upload filename ${filename} does not start with ${UPLOAD_FILE_PREFIX}`);
    const boundary = `----pyrepo-bench-${randomBytes(12).toString('hex')}`;
    const fields: [string, string][] = [
      [':action', 'file_upload'],
      ['protocol_version', '1'],
      ['metadata_version', '2.1'],
      ['name', name],
      ['version', version],
      ['filetype', 'bdist_wheel'],
      ['pyversion', 'py3'],
      ['summary', 'Benchmark upload'],
      ['sha256_digest', createHash('sha256').update(data).digest('hex')],
    ];
    files.push({ filename, name, version, body: multipartBody(fields, { filename, data }, boundary), boundary });
  }
  return files;
}

function post(agent: Agent, url: URL, f: UploadFile, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': `multipart/form-data; boundary=${f.boundary}`,
          'content-length': String(f.body.length),
          authorization: `Basic ${Buffer.from(`${BENCH_USER.user}:${BENCH_USER.password}`).toString('base64')}`,
        },
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => (body += s));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`upload of ${f.filename} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(f.body);
  });
}

/** Uploads `files` one after another, stopping early after `maxMs`. */
export function uploadSequentially(baseUrl: string, files: UploadFile[], maxMs: number): Promise<UploadResult> {
  return uploadConcurrently(baseUrl, files, maxMs, 1);
}

/**
 * Uploads `files` over `connections` keep-alive connections at once (each sends its next
 * file when the last is answered), stopping early after `maxMs`.
 */
export async function uploadConcurrently(baseUrl: string, files: UploadFile[], maxMs: number, connections: number): Promise<UploadResult> {
  const url = new URL('/legacy/', baseUrl);
  const times: number[] = [];
  let failures = 0;
  let firstFailure: string | undefined;
  let next = 0;
  const started = performance.now();
  const connection = async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while (next < files.length && performance.now() - started <= maxMs) {
        const f = files[next++] as UploadFile;
        const t = performance.now();
        try {
          const res = await post(agent, url, f, 10_000);
          if (res.status !== 200) {
            failures += 1;
            firstFailure ??= `${f.filename}: HTTP ${res.status} ${res.body.trim().slice(0, 300)}`;
          }
        } catch (err) {
          failures += 1;
          firstFailure ??= `${f.filename}: ${(err as Error).message}`;
        }
        times.push(performance.now() - t);
      }
    } finally {
      agent.destroy();
    }
  };
  await Promise.all(Array.from({ length: connections }, connection));
  const seconds = (performance.now() - started) / 1000;
  const sorted = [...times].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  const uploaded = times.length - failures;
  return {
    attempted: times.length,
    uploaded,
    seconds,
    perSecond: uploaded / seconds,
    maxMs: sorted[sorted.length - 1] ?? 0,
    p50Ms: pct(50),
    p99Ms: pct(99),
    failures,
    ...(firstFailure ? { firstFailure } : {}),
  };
}
