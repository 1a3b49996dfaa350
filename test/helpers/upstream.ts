/**
 * A small upstream simple index on loopback for the proxy's tests: projects made of generated
 * wheels (dists.ts), served as PEP 691 JSON or PEP 503 HTML with ETags, files and their core
 * metadata on the same host (or on a second "file host" server), and knobs a test turns:
 * answer 500s, stop, corrupt a file's bytes, count requests. Never anything but 127.0.0.1.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildWheel, metadataText, wheelFilename, type DistSpec } from './dists.js';

export interface UpstreamRelease extends DistSpec {
  /** PEP 700 upload time (default 2020-01-01). */
  uploadTime?: string;
  yanked?: string | boolean;
}

interface HostedFile {
  project: string;
  filename: string;
  bytes: Buffer;
  metadata: Buffer;
  release: UpstreamRelease;
}

export interface FakeUpstream {
  /** `http://127.0.0.1:PORT/simple/` */
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  /** Adds a release (one wheel) to a project. */
  add(release: UpstreamRelease): { filename: string; bytes: Buffer; sha256: string };
  /** Serve other bytes than the page's hash says for this file (same size). */
  corrupt(filename: string): void;
  /** Requests seen, by path. */
  requests: string[];
  /** How project pages are served. */
  format: 'json' | 'html';
  /** Answer every request with 500 while true. */
  failing: boolean;
  /** Holds every answer this long. */
  delayMs: number;
  stop(): Promise<void>;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const normalize = (name: string) => name.replace(/[-_.]+/g, '-').toLowerCase();

/** Starts the fake upstream on 127.0.0.1 (a free port, or `port` to come back on the same one). */
export async function startFakeUpstream(opts: { port?: number; format?: 'json' | 'html' } = {}): Promise<FakeUpstream> {
  const files = new Map<string, HostedFile>();
  const corrupted = new Set<string>();
  const state = { format: opts.format ?? 'json', failing: false, delayMs: 0 };
  const requests: string[] = [];

  const page = (project: string): { body: string; type: string } | undefined => {
    const list = [...files.values()].filter((f) => f.project === project);
    if (list.length === 0) return undefined;
    if (state.format === 'json') {
      return {
        type: 'application/vnd.pypi.simple.v1+json',
        body: JSON.stringify({
          meta: { 'api-version': '1.1' },
          name: project,
          versions: [...new Set(list.map((f) => f.release.version))],
          files: list.map((f) => ({
            filename: f.filename,
            url: `../../files/${f.filename}`,
            hashes: { sha256: sha256(f.bytes) },
            ...(f.release.requiresPython ? { 'requires-python': f.release.requiresPython } : {}),
            'core-metadata': { sha256: sha256(f.metadata) },
            yanked: f.release.yanked ?? false,
            size: f.bytes.length,
            'upload-time': f.release.uploadTime ?? '2020-01-01T00:00:00.000000Z',
          })),
        }),
      };
    }
    const links = list
      .map((f) => `<a href="/files/${f.filename}#sha256=${sha256(f.bytes)}" data-core-metadata="sha256=${sha256(f.metadata)}"${f.release.requiresPython ? ` data-requires-python="${f.release.requiresPython.replace(/>/g, '&gt;').replace(/</g, '&lt;')}"` : ''}>${f.filename}</a><br>`)
      .join('\n');
    return { type: 'text/html; charset=utf-8', body: `<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.0"></head><body>${links}</body></html>` };
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    requests.push(path);
    if (state.failing) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('upstream is broken\n');
      return;
    }
    const project = /^\/simple\/([^/]+)\/$/.exec(path)?.[1];
    if (project !== undefined) {
      const p = page(project);
      if (!p) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no such project\n');
        return;
      }
      const etag = `"${sha256(Buffer.from(p.body)).slice(0, 16)}"`;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag }).end();
        return;
      }
      res.writeHead(200, { 'content-type': p.type, etag }).end(p.body);
      return;
    }
    const file = /^\/files\/([^/]+)$/.exec(path)?.[1];
    if (file !== undefined) {
      const isMetadata = file.endsWith('.metadata');
      const f = files.get(isMetadata ? file.slice(0, -'.metadata'.length) : file);
      if (!f) {
        res.writeHead(404).end();
        return;
      }
      let body = isMetadata ? f.metadata : f.bytes;
      if (!isMetadata && corrupted.has(f.filename)) {
        body = Buffer.from(body);
        body[body.length >> 1] = (body[body.length >> 1] as number) ^ 0xff;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }).end(body);
      return;
    }
    res.writeHead(404).end();
  };

  const server: Server = createServer((req, res) => {
    if (state.delayMs > 0) setTimeout(() => handle(req, res), state.delayMs);
    else handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: opts.port ?? 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const upstream: FakeUpstream = {
    url: `http://127.0.0.1:${port}/simple/`,
    host: `127.0.0.1:${port}`,
    requests,
    get format() {
      return state.format;
    },
    set format(v) {
      state.format = v;
    },
    get failing() {
      return state.failing;
    },
    set failing(v) {
      state.failing = v;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(v) {
      state.delayMs = v;
    },
    add(release) {
      const filename = wheelFilename(release);
      const bytes = buildWheel(release);
      files.set(filename, { project: normalize(release.name), filename, bytes, metadata: Buffer.from(metadataText(release), 'utf8'), release });
      return { filename, bytes, sha256: sha256(bytes) };
    },
    corrupt(filename) {
      corrupted.add(filename);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return upstream;
}
