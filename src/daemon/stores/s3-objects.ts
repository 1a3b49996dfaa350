/**
 * The two requests every upload and every follower make, PUT and GET of one object, sent
 * without the AWS SDK's middleware stack: signed with the SDK's own SigV4 signer
 * (@smithy/signature-v4), with the SDK's resolved endpoint, region and credentials, over a
 * keep-alive agent.
 *
 * Why not the SDK for these: measured against s3rver with 8 uploads at a time, a PutObject
 * through the SDK cost 2.4-2.8 ms of the daemon's CPU (its middleware, retry and checksum
 * machinery), the same signed request sent here 0.8 ms; in the shared mode that was the
 * difference between a daemon pair reaching 100 uploads a second on two cores or not. The
 * SDK still does everything else (finding credentials, checking the bucket, listing,
 * deleting), and decides the endpoint: `capture` records the address of the request it makes
 * when the bucket is checked, so path-style and virtual-hosted addressing, custom endpoints
 * and regions stay the SDK's business.
 *
 * The PUT is signed with the content's own sha256 as its payload hash, so the store refuses
 * bytes that are not the content the key names (S3's XAmzContentSHA256Mismatch).
 */
import { createHash, createHmac, type BinaryLike } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import { SignatureV4 } from '@smithy/signature-v4';
import { sendRequest, type HttpReply } from '../../shared/http-request.js';
import { notFound, type ByteRange } from './blob-store.js';

/** Where the SDK sent a request for the bucket: objects are `<pathPrefix>/<key>` on that host. */
export interface BucketAddress {
  protocol: 'http:' | 'https:';
  hostname: string;
  port: number | undefined;
  /** `/bucket` with path-style addressing, empty with virtual-hosted. */
  pathPrefix: string;
}

export interface S3ObjectsOptions {
  address: BucketAddress;
  region: string;
  /** The SDK's credential provider (it caches and refreshes what it found). */
  credentials: ConstructorParameters<typeof SignatureV4>[0]['credentials'];
}

/** The sha256 of no bytes: a GET's payload hash. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ATTEMPTS = 3;
const RETRIED_STATUS = new Set([500, 502, 503, 504]);

/** The signer's hash, on Node's crypto (what @smithy/hash-node does, without another package). */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', binary(secret));
  }
  update(data: SourceData): void {
    this.hash.update(binary(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

type Body = Buffer | { size: number; open: () => Readable };
type SourceData = string | ArrayBuffer | ArrayBufferView;

function binary(data: SourceData): BinaryLike {
  if (typeof data === 'string') return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

/** A failed object request, with the store's status and error code. */
export class S3RequestError extends Error {
  override readonly name = 'S3RequestError';
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    what: string,
  ) {
    super(`${what}: the store answered ${status}${code ? ` ${code}` : ''}.`);
  }
}

export class S3Objects {
  private readonly signer: SignatureV4;
  private readonly agent: HttpAgent;

  constructor(private readonly o: S3ObjectsOptions) {
    this.signer = new SignatureV4({ service: 's3', region: o.region, credentials: o.credentials, sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
    this.agent = o.address.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  }

  /**
   * Stores a content whose sha256 is `sha256` under `key`: `body` is its bytes, or opens a
   * stream of its `size` bytes (again for each attempt).
   */
  async put(key: string, body: Body, sha256: string): Promise<void> {
    const size = Buffer.isBuffer(body) ? body.length : body.size;
    (await this.send('PUT', key, { 'content-length': String(size), 'content-type': 'application/octet-stream' }, sha256, body)).body.resume();
  }

  /** The bytes of `key`, or of a range of them; rejects with code ENOENT when there is no such object. */
  async get(key: string, range?: ByteRange): Promise<Readable> {
    return (await this.send('GET', key, range ? { range: `bytes=${range.start}-${range.end}` } : {}, EMPTY_SHA256)).body;
  }

  close(): void {
    this.agent.destroy();
  }

  private async send(method: 'PUT' | 'GET', key: string, headers: Record<string, string>, payloadSha256: string, body?: Body): Promise<HttpReply> {
    const { address } = this.o;
    // Each segment escaped once; '/' keeps separating them (the signer escapes the path as S3 expects).
    const path = `${address.pathPrefix}/${key.split('/').map(encodeURIComponent).join('/')}`;
    const host = address.port === undefined ? address.hostname : `${address.hostname}:${address.port}`;
    for (let attempt = 1; ; attempt++) {
      const signed = await this.signer.sign({
        method,
        protocol: address.protocol,
        hostname: address.hostname,
        ...(address.port !== undefined ? { port: address.port } : {}),
        path,
        query: {},
        headers: { ...headers, host, 'x-amz-content-sha256': payloadSha256 },
      });
      let res: HttpReply;
      try {
        const sent = body === undefined || Buffer.isBuffer(body) ? body : body.open();
        res = await sendRequest(`${address.protocol}//${host}${path}`, { method, headers: signed.headers, agent: this.agent, ...(sent ? { body: sent } : {}) });
      } catch (err) {
        if (attempt >= ATTEMPTS) throw err;
        await pause(attempt);
        continue;
      }
      const { status } = res;
      if (status === 200 || status === 206) return res;
      const text = await res.text();
      if (status === 404 && method === 'GET') throw notFound(key);
      if (RETRIED_STATUS.has(status) && attempt < ATTEMPTS) {
        await pause(attempt);
        continue;
      }
      throw new S3RequestError(status, /<Code>([^<]+)<\/Code>/.exec(text)?.[1], `${method} ${key}`);
    }
  }
}

/** 50 ms, then 200 ms: a store that is briefly busy (503 SlowDown) or a dropped keep-alive connection. */
function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 50 * 4 ** (attempt - 1)));
}
