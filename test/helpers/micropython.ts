/**
 * MicroPython's package installers, as far as a server sees them, for tests: the exact
 * request bytes upip and mip send (from the protocol reference, recorded from the real
 * clients), a raw-socket HTTP exchange that keeps every byte of the answer, the way a
 * 64 KB-heap board inflates (a 4 KB window), a reader of tar headers that checks them
 * the way upip's tar reader needs them, and small re-implementations of upip's and mip's
 * install loops.
 */
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { gunzipSync } from 'node:zlib';

// ---- requests as the real clients write them --------------------------------------

/** upip (MicroPython ≤ 1.19.1): HTTP/1.0, a Host with the port, nothing else. */
export function upipRequest(path: string, hostPort: string): string {
  return `GET ${path} HTTP/1.0\r\nHost: ${hostPort}\r\n\r\n`;
}

/** mip as frozen in firmware 1.25–1.28 (requests 0.10.2): HTTP/1.0, `Connection: close`, a Host without the port. */
export function mipRequest10(path: string, host: string): string {
  return `GET ${path} HTTP/1.0\r\nConnection: close\r\nHost: ${host}\r\n\r\n`;
}

/** mip as frozen in firmware 1.20 (urequests 0.7.0): the same headers in the other order. */
export function mipRequest120(path: string, host: string): string {
  return `GET ${path} HTTP/1.0\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
}

/** mip on master (requests 1.1.1): HTTP/1.1 with `Connection: close`, a Host without the port. */
export function mipRequest11(path: string, host: string): string {
  return `GET ${path} HTTP/1.1\r\nConnection: close\r\nHost: ${host}\r\n\r\n`;
}

/** `mpremote mip install` (CPython urllib on the host): HTTP/1.1, the Host with the port. */
export function mpremoteRequest(path: string, hostPort: string): string {
  return `GET ${path} HTTP/1.1\r\nAccept-Encoding: identity\r\nHost: ${hostPort}\r\nUser-Agent: Python-urllib/3.11\r\nConnection: close\r\n\r\n`;
}

// ---- a raw exchange ----------------------------------------------------------------

export interface RawResponse {
  /** Every byte the server sent. */
  raw: Buffer;
  statusLine: string;
  /** Header lines as sent (name case kept). */
  headerLines: string[];
  /** Header values by lowercased name. */
  headers: Map<string, string>;
  status: number;
  body: Buffer;
  /** The server ended the connection by itself (before the time limit). */
  closedByServer: boolean;
}

/** Sends `request` over a new TCP connection and reads until the server closes it (or `timeoutMs`). */
export function rawExchange(port: number, request: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closedByServer = false;
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      closedByServer = true;
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseRawResponse(Buffer.concat(chunks), closedByServer));
      } catch (err) {
        reject(err as Error);
      }
    });
    socket.write(request);
  });
}

/** Splits a raw HTTP response at the first CRLF CRLF; throws when there is none. */
export function parseRawResponse(raw: Buffer, closedByServer = true): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`No CRLF CRLF in the response: ${JSON.stringify(raw.toString('latin1').slice(0, 300))}`);
  const head = raw.subarray(0, end).toString('latin1');
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers = new Map<string, string>();
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return { raw, statusLine, headerLines, headers, status: Number(statusLine.split(' ')[1]), body: raw.subarray(end + 4), closedByServer };
}

// ---- what a small board can inflate -------------------------------------------------

/**
 * Gunzips like a board with 64 KB of heap or less (uzlib with a 4 KB dictionary): zlib
 * with windowBits 12. The output buffer is kept small so that every back-reference is
 * looked up in the 4 KB window: with one large buffer zlib would find far references in
 * the output itself, and a 32 KB-window gzip would wrongly pass.
 */
export function inflateLikeSmallBoard(gz: Buffer): Buffer {
  return gunzipSync(gz, { windowBits: 12, chunkSize: 64 });
}

export interface TarHeader {
  name: string;
  size: number;
  typeflag: string;
  magic: string;
  version: string;
  prefix: string;
  checksumOk: boolean;
}

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? raw.length : nul).toString('latin1');
}

/** Reads every 512-byte header of a tar archive (no extension records are interpreted). */
export function readTarHeaders(tar: Buffer): { headers: TarHeader[]; data: Map<string, Buffer> } {
  const headers: TarHeader[] = [];
  const data = new Map<string, Buffer>();
  for (let at = 0; at + 512 <= tar.length; ) {
    const block = tar.subarray(at, at + 512);
    if (block.every((b) => b === 0)) break;
    const size = parseInt(field(block, 124, 12).trim() || '0', 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    const header: TarHeader = {
      name: field(block, 0, 100),
      size,
      typeflag: String.fromCharCode(block[156] as number),
      magic: block.subarray(257, 263).toString('latin1'),
      version: block.subarray(263, 265).toString('latin1'),
      prefix: field(block, 345, 155),
      checksumOk: parseInt(field(block, 148, 8).trim(), 8) === sum,
    };
    headers.push(header);
    data.set(header.name, Buffer.from(tar.subarray(at + 512, at + 512 + size)));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return { headers, data };
}

// ---- upip's and mip's install loops --------------------------------------------------

/** One GET as the client would send it; `url` is absolute. */
export type Fetch = (url: string) => Promise<{ status: number; body: Buffer }>;

/** upip's tar extraction (upip.install_tar): strip the top folder, skip setup.*, PKG-INFO*, README*, *.egg-info*. */
export function upipExtract(tar: Buffer): { files: Map<string, Buffer>; deps: string[] } {
  const files = new Map<string, Buffer>();
  let deps: string[] = [];
  const { headers, data } = readTarHeaders(tar);
  for (const h of headers) {
    const slash = h.name.indexOf('/');
    const fname = slash === -1 ? '' : h.name.slice(slash + 1);
    if (['setup.', 'PKG-INFO', 'README'].some((p) => fname.startsWith(p)) || fname.includes('.egg-info')) {
      if (fname.endsWith('/requires.txt')) {
        const text = (data.get(h.name) as Buffer).toString('utf8').trimEnd();
        deps = text === '' ? [] : text.split('\n');
      }
      continue;
    }
    // upip: a name ending in "/" is a folder (made on demand); anything else is a file.
    if (h.name.endsWith('/')) continue;
    if (fname === '') throw new Error(`upip would write a file at the install folder itself (member '${h.name}')`);
    files.set(fname, data.get(h.name) as Buffer);
  }
  return { files, deps };
}

/**
 * upip.install(spec): for each spec (breadth first, duplicates by exact spec skipped),
 * GET `<index>/<name>/json`, take `releases[version][0].url` (exactly one entry asserted),
 * inflate with a 4 KB window, extract, queue requires.txt. Returns the installed files.
 */
export async function upipInstall(index: string, spec: string, fetch: Fetch): Promise<{ files: Map<string, Buffer>; log: string[] }> {
  const files = new Map<string, Buffer>();
  const log: string[] = [];
  const queue = [spec];
  const installed: string[] = [];
  for (let rounds = 0; queue.length > 0; rounds++) {
    if (rounds > 50) throw new Error('upip simulation: too many packages');
    const current = queue.shift() as string;
    if (installed.includes(current)) continue;
    const [name, pinned] = current.split('==') as [string, string | undefined];
    const meta = await fetch(`${index}/${name}/json`);
    if (meta.status !== 200) throw new Error(`upip: package not found: ${name} (${meta.status})`);
    const json = JSON.parse(meta.body.toString('utf8')) as { info: { version: string }; releases: Record<string, { url: string }[]> };
    const version = pinned ?? json.info.version;
    const entries = json.releases[version];
    if (!entries || entries.length !== 1) throw new Error(`upip: AssertionError (releases[${version}] has ${entries?.length ?? 0} entries)`);
    const url = (entries[0] as { url: string }).url;
    if (!/^https?:\/\/[^/]+:\d+\//.test(url)) throw new Error(`upip would connect to port 443: the URL ${url} has no explicit port`);
    log.push(`Installing ${name} ${version} from ${url}`);
    const archive = await fetch(url);
    if (archive.status !== 200) throw new Error(`upip: ${archive.status} for ${url}`);
    const { files: got, deps } = upipExtract(inflateLikeSmallBoard(archive.body));
    for (const [path, bytes] of got) files.set(path, bytes);
    installed.push(current);
    queue.push(...deps);
  }
  return { files, log };
}

/** mip's package JSON. */
export interface MipPackage {
  v?: number;
  hashes?: [string, string][];
  urls?: [string, string][];
  deps?: [string, string | null][];
  version?: string;
}

/**
 * mip.install(name, index=…, version=…, mpy=…): GET `<index>/package/<mpy>/<name>/<version>.json`,
 * each hash from `<index>/file/<h[:2]>/<h>`, then each dependency the same way (mip has no
 * cycle detection: a cycle would not end, so the simulation fails on one).
 */
export async function mipInstall(
  index: string,
  name: string,
  fetch: Fetch,
  opts: { version?: string | null; mpy?: string } = {},
): Promise<{ files: Map<string, Buffer>; requested: string[] }> {
  const files = new Map<string, Buffer>();
  const requested: string[] = [];
  const stack: string[] = [];
  const install = async (pkg: string, version: string | null | undefined): Promise<void> => {
    if (stack.includes(pkg)) throw new Error(`mip would recurse forever: dependency cycle ${[...stack, pkg].join(' -> ')}`);
    stack.push(pkg);
    const url = `${index}/package/${opts.mpy ?? '6'}/${pkg}/${version || 'latest'}.json`;
    requested.push(url);
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`mip: Package not found: ${url} (${res.status})`);
    const json = JSON.parse(res.body.toString('utf8')) as MipPackage;
    for (const [target, short] of json.hashes ?? []) {
      const fileUrl = `${index}/file/${short.slice(0, 2)}/${short}`;
      requested.push(fileUrl);
      const file = await fetch(fileUrl);
      if (file.status !== 200) throw new Error(`mip: File not found: ${target} ${short} (${file.status})`);
      if (!createHash('sha256').update(file.body).digest('hex').startsWith(short)) throw new Error(`mip: ${fileUrl} does not hash to ${short}`);
      files.set(target, file.body);
    }
    for (const [target, fileUrl] of json.urls ?? []) {
      const file = await fetch(fileUrl);
      if (file.status !== 200) throw new Error(`mip: File not found: ${fileUrl}`);
      files.set(target, file.body);
    }
    for (const [dep, depVersion] of json.deps ?? []) await install(dep, depVersion);
    stack.pop();
  };
  await install(name, opts.version);
  return { files, requested };
}
