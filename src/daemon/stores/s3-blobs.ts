/**
 * An S3-compatible bucket as a BlobStore, for daemons sharing an index. Files are stored once
 * under their content (`<prefix>blobs/sha256/ab/cd/<sha256>`): two daemons writing the same
 * bytes write the same object, harmlessly, so no conditional write is ever needed (not every
 * S3-compatible server honours them). Which file name holds which content is PostgreSQL's
 * to decide; a blob no row names (an upload that lost a race) is an orphan, collected later.
 *
 * Uploads are spooled to a temporary file in the data folder, made durable there, then put.
 * Endpoint, region and credentials come the usual AWS ways (AWS_ENDPOINT_URL_S3 or
 * AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID…, ~/.aws/config and credentials, roles).
 * Path-style addressing is used with a custom endpoint (what MinIO, Ceph and the like
 * expect) and virtual-hosted style with AWS itself; AWS_S3_FORCE_PATH_STYLE=true|false decides
 * otherwise. The AWS SDK is loaded only here, so a daemon on the packages folder never loads it.
 */
import { createReadStream } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { PackageStorage, type TempFile } from '../services/storage.js';
import { type BlobInfo, type BlobStore, type ByteRange } from './blob-store.js';
import { S3Objects, type BucketAddress } from './s3-objects.js';

/** Files up to this size are read into memory to be put; larger ones are streamed. */
const IN_MEMORY_PUT_BYTES = 8 * 1024 * 1024;

/** Where a `s3://bucket/prefix` setting points. */
export interface S3Location {
  bucket: string;
  /** Empty, or ends with `/`. */
  prefix: string;
}

/** Reads `s3://bucket[/prefix]`; throws with what is wrong. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/?#]+)(?:\/([^?#]*))?$/.exec(url);
  if (!m) throw new Error(`'${url}' is not an S3 location: write it as s3://bucket or s3://bucket/prefix.`);
  const bucket = m[1] as string;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new Error(`'${bucket}' is not a valid bucket name (3-63 lowercase letters, digits, dots and hyphens).`);
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket, prefix: prefix ? `${prefix}/` : '' };
}

/** The endpoint the SDK will use from the environment, if one is set. */
function endpointFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  return env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
}

/** Path-style addressing: forced either way by AWS_S3_FORCE_PATH_STYLE, else with any custom endpoint. */
export function usesPathStyle(env: NodeJS.ProcessEnv): boolean {
  const forced = env.AWS_S3_FORCE_PATH_STYLE?.toLowerCase();
  if (forced === 'true' || forced === '1') return true;
  if (forced === 'false' || forced === '0') return false;
  return endpointFromEnv(env) !== undefined;
}

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

export class S3Blobs implements BlobStore {
  private readonly spool: PackageStorage;
  private client: S3Client | undefined;
  private sdk: typeof S3Sdk | undefined;
  /** Where the SDK addressed the bucket (recorded when it is checked): PUT and GET go there directly. */
  private address: BucketAddress | undefined;
  private objectRequests: Promise<S3Objects> | undefined;

  constructor(
    readonly location: S3Location,
    /** A folder of the data folder for uploads on their way to the bucket. */
    spoolDir: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.spool = new PackageStorage(spoolDir);
  }

  /** The object key of a content. */
  keyOf(sha256: string): string {
    return `${this.location.prefix}blobs/sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
  }

  private async s3(): Promise<{ client: S3Client; sdk: typeof S3Sdk }> {
    if (!this.client || !this.sdk) {
      // The SDK warns on every Node below 22 that future releases will need it; the version
      // pyrepo pins runs on Node 20, which pyrepo supports, so the warning would only alarm.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      // A CommonJS package: bundled, its import has only a default export (module.exports).
      const mod = (await import('@aws-sdk/client-s3')) as Partial<typeof S3Sdk> & { default?: typeof S3Sdk };
      this.sdk = (mod.S3Client ? mod : mod.default) as typeof S3Sdk;
      // What the environment given says is passed on as it is (for a daemon, it is the SDK's own
      // process.env); anything else (~/.aws files, roles) the SDK finds by itself.
      const env = this.env;
      const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
      const endpoint = endpointFromEnv(env);
      const credentials =
        env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
          ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) }
          : undefined;
      this.client = new this.sdk.S3Client({
        forcePathStyle: usesPathStyle(env),
        maxAttempts: 3,
        // Checksums only where S3 requires them: the SDK's default sends every upload with a
        // trailing checksum in aws-chunked encoding, which many S3-compatible servers store
        // as part of the object. pyrepo checks each file's sha256 itself.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        ...(region ? { region } : {}),
        ...(endpoint ? { endpoint } : {}),
        ...(credentials ? { credentials } : {}),
      });
      this.client.middlewareStack.add(
        (next, context) => async (args) => {
          const req = args.request as { protocol?: string; hostname?: string; port?: number; path?: string };
          if (context.commandName === 'HeadBucketCommand' && req.hostname && req.path !== undefined) {
            this.address = { protocol: req.protocol === 'https:' ? 'https:' : 'http:', hostname: req.hostname, port: req.port, pathPrefix: req.path.replace(/\/+$/, '') };
          }
          return next(args);
        },
        { step: 'finalizeRequest', name: 'pyrepoBucketAddress' },
      );
    }
    return { client: this.client, sdk: this.sdk };
  }

  /** PUT and GET of objects without the SDK's middleware (s3-objects.ts says why), once the bucket was checked. */
  private objects(): Promise<S3Objects> {
    this.objectRequests ??= (async () => {
      const { client, sdk } = await this.s3();
      if (!this.address) await client.send(new sdk.HeadBucketCommand({ Bucket: this.location.bucket }));
      if (!this.address) throw new Error(`Could not tell where the bucket '${this.location.bucket}' is.`);
      return new S3Objects({ address: this.address, region: await client.config.region(), credentials: client.config.credentials });
    })();
    // A failure (the bucket unreachable) is tried again next time.
    this.objectRequests.catch(() => (this.objectRequests = undefined));
    return this.objectRequests;
  }

  async prepare(): Promise<string[]> {
    const removed = await this.spool.prepare();
    const { client, sdk } = await this.s3();
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: this.location.bucket }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const message = (err as Error).message;
      const why =
        status === 404
          ? 'it does not exist'
          : status === 403
            ? 'access is denied (check the credentials)'
            : /region is missing/i.test(message)
              ? 'no region is set (set AWS_REGION, or region in ~/.aws/config)'
              : message;
      throw new Error(`The bucket '${this.location.bucket}' cannot be used: ${why}.`);
    }
    return removed;
  }

  createTemp(): Promise<TempFile> {
    return this.spool.createTemp();
  }
  writeTemp(bytes: Buffer): TempFile {
    return this.spool.writeTemp(bytes);
  }
  seal(temp: TempFile): Promise<number> {
    return this.spool.seal(temp);
  }
  discard(temp: TempFile): Promise<void> {
    return this.spool.discard(temp);
  }

  async commit(temp: TempFile, _filename: string, sha256: string): Promise<string> {
    const key = await this.putFile(temp.path, sha256);
    await rm(temp.path, { force: true });
    temp.committed = true;
    return key;
  }

  /**
   * Stores the content of a durable file that stays where it is (an upload the daemon also
   * keeps in its own folder); returns its key.
   */
  async putFile(path: string, sha256: string): Promise<string> {
    const key = this.keyOf(sha256);
    const { size } = await stat(path);
    // Small files (nearly all distributions) are sent from memory, larger ones streamed.
    const body = size <= IN_MEMORY_PUT_BYTES ? await readFile(path) : { size, open: () => createReadStream(path) };
    await (await this.objects()).put(key, body, sha256);
    return key;
  }

  async open(key: string, range?: ByteRange): Promise<Readable> {
    return (await this.objects()).get(key, range);
  }

  async read(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.open(key)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const { client, sdk } = await this.s3();
    try {
      const head = await client.send(new sdk.HeadObjectCommand({ Bucket: this.location.bucket, Key: key }));
      return { size: head.ContentLength ?? 0, mtimeMs: head.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async remove(key: string): Promise<void> {
    const { client, sdk } = await this.s3();
    await client.send(new sdk.DeleteObjectCommand({ Bucket: this.location.bucket, Key: key }));
  }

  /** Every stored content's key, size and time (for collecting orphans). */
  async *list(): AsyncGenerator<{ key: string } & BlobInfo> {
    const { client, sdk } = await this.s3();
    let token: string | undefined;
    do {
      const page = await client.send(
        new sdk.ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: `${this.location.prefix}blobs/`, ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const o of page.Contents ?? []) if (o.Key) yield { key: o.Key, size: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? 0 };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async close(): Promise<void> {
    await this.spool.close();
    (await this.objectRequests?.catch(() => undefined))?.close();
    this.client?.destroy();
  }
}
