/**
 * buildApp(): the whole daemon as a fastify instance that never listens (main.ts does).
 * Tests drive it with app.inject(); `pyrepo serve` and the background daemon listen.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { hostname } from 'node:os';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import multipart from '@fastify/multipart';
import pino, { type DestinationStream } from 'pino';
import { batchedLines } from './services/log-lines.js';
import { formatBytes } from '../shared/format.js';
import { PYREPO_VERSION } from '../shared/version.js';
import type { DaemonSettings } from '../shared/settings.js';
import { dataLayout } from '../shared/paths.js';
import { loadTlsFiles, SettingsProblem } from '../shared/settings-checks.js';
import { upstreamConfigOf } from '../shared/upstream-config.js';
import authPlugin from './plugins/auth.js';
import boardsPlugin from './plugins/boards.js';
import folderHealthPlugin from './plugins/folder-health.js';
import indexPlugin from './plugins/index.js';
import watcherPlugin from './plugins/watcher.js';
import upstreamPlugin from './plugins/upstream.js';
import watchesPlugin from './plugins/watches.js';
import controlRoutes from './routes/control.js';
import eventRoutes from './routes/events.js';
import fileRoutes from './routes/files.js';
import landingRoutes from './routes/landing.js';
import mipRoutes from './routes/mip.js';
import projectRoutes from './routes/project.js';
import pypiJsonRoutes from './routes/pypi-json.js';
import simpleRoutes from './routes/simple.js';
import upstreamControlRoutes from './routes/upstream.js';
import uploadRoutes, { isUploadRequest, notMultipart } from './routes/upload.js';
import { FORM_LIMITS } from './routes/upload-form.js';
import upipRoutes from './routes/upip.js';
import watchRoutes from './routes/watches.js';
import { genReqId, hotPaths } from './hot-paths.js';
import { openFrontDoor, type FrontDoor } from './front-door.js';
import { clientErrorHandler } from './client-errors.js';
import { lazySerializerBuilder, lazyValidatorBuilder } from './lazy-compilers.js';
import { AppSettingsError, BadRequest, CATALOG_RETRY_AFTER_S, UploadCutOff, UploadTooLarge } from './errors.js';

export interface BuildAppOptions {
  settings: DaemonSettings;
  /** Where log lines go (default: stdout). */
  logStream?: DestinationStream;
  /** How long an upload body may stop arriving before it is refused (default 60 s; tests shorten it). */
  uploadIdleTimeoutMs?: number;
  /** How long a file in a watched build folder must hold still before it is read (default 250 ms). */
  watchSettleMs?: number;
  /** How many events `/-/events` keeps for reconnecting clients, and how long downloads are gathered into one event (tests change them). */
  events?: { ringSize?: number; downloadBatchMs?: number };
  /** How long the upstream may take to connect, answer or send the next bytes (default 5 s; tests shorten it). */
  upstreamTimeoutMs?: number;
  /** Compare the packages folder with the catalog once listening, not at ready (main.ts, which listens). */
  indexAfterListen?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** A random id made for this run; main.ts writes it into the state file (see control.ts, health). */
    instance: string;
    /** What answers plain GETs before node:http (front-door.ts); none with TLS. */
    frontDoor: FrontDoor | undefined;
  }
}

/** Makes a reason phrase Node accepts: printable Latin-1, one line, short. */
function reasonPhrase(message: string): string {
  const line = message.split('\n')[0] ?? '';
  const ascii = line.normalize('NFKD').replace(/[^\x20-\x7e]/g, '?');
  return ascii.length > 200 ? `${ascii.slice(0, 197)}...` : ascii;
}

/** Multipart and framework errors with messages a person can act on; pyrepo's own pass as they are. */
function translate(err: FastifyError, settings: DaemonSettings, req: FastifyRequest): FastifyError {
  if (err.code?.startsWith('PYREPO_')) return err;
  const contentType = req.headers['content-type'];
  // Any body an upload URL cannot parse (JSON, text, a raw file) is a client that does not send forms.
  if (isUploadRequest(req) && (err.code?.startsWith('FST_ERR_CTP_') || err.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE')) {
    return notMultipart(contentType) as FastifyError;
  }
  switch (err.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new UploadTooLarge(formatBytes(settings.maxUploadBytes));
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new BadRequest(`The upload form has too many parts (${err.message}).`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new BadRequest(`Unsupported Content-Type '${contentType ?? ''}' for ${req.method} ${req.url.split('?', 1)[0] ?? ''}.`);
    default:
      if (err.message === 'Multipart: Boundary not found') {
        return new BadRequest(`The multipart/form-data Content-Type has no boundary parameter ('${contentType ?? ''}'), so the form cannot be read.`);
      }
      // busboy's words for a body that stops early (a part or the form), and the request's when the client goes.
      if (/terminated early|unexpected end/i.test(err.message)) return new UploadCutOff('before its closing boundary');
      if (err.code === 'ECONNRESET' || err.message === 'aborted') {
        return new BadRequest('The connection was closed before the request body was complete; nothing was stored.');
      }
      if (/multipart|boundary|part header/i.test(err.message)) {
        return new BadRequest(`The multipart body could not be read: ${err.message.replace(/\.$/, '')}. Nothing was stored.`);
      }
      return err;
  }
}

export { AppSettingsError };

/** The certificate and key for HTTPS, when both are set, checked as the CLI checks them. */
function readTls(settings: DaemonSettings): { cert: Buffer; key: Buffer } | undefined {
  if (!settings.tlsCert && !settings.tlsKey) return undefined;
  if (!settings.tlsCert || !settings.tlsKey) throw new AppSettingsError('HTTPS needs both --tls-cert and --tls-key.');
  try {
    return loadTlsFiles(settings.tlsCert, settings.tlsKey);
  } catch (err) {
    if (err instanceof SettingsProblem) throw new AppSettingsError(err.message);
    throw err;
  }
}

export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const { settings } = opts;
  const layout = dataLayout(settings.dataDir);
  // Lines are joined and written once per turn of the event loop, not one write(2) per request:
  // straight to stdout when it is a file, else through pino's asynchronous destination, which
  // it flushes when the process exits (log-lines.ts says why).
  const stream = opts.logStream ?? batchedLines(() => pino.destination({ dest: 1, sync: false }), 1);
  const tls = readTls(settings);
  let frontDoor: FrontDoor | undefined;
  const app = Fastify({
    // The server fastify would make (https with TLS, its timeouts), with the hot paths in front:
    // downloads and project pages in their plain form are answered before fastify routes them
    // (hot-paths.ts decorates the app with them once the routes exist, before any listen).
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void, o: FastifyServerOptions) => {
      const listener = (req: IncomingMessage, res: ServerResponse) => {
        if (!app.hotPaths.handle(req, res)) handler(req, res);
      };
      const server = tls ? createHttpsServer(tls, listener) : createHttpServer(listener);
      server.keepAliveTimeout = o.keepAliveTimeout as number;
      server.requestTimeout = o.requestTimeout as number;
      server.setTimeout(o.connectionTimeout as number);
      // In front of node:http itself, for plain HTTP: the hot paths' answers go out from the socket.
      if (!tls) frontDoor = openFrontDoor(server, () => app.hotPaths);
      return server;
    },
    genReqId,
    logger: { level: settings.logLevel, stream },
    // One compact access line per request is logged below instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Distribution filenames can be long (many platform tags).
    routerOptions: { maxParamLength: 1000 },
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    clientErrorHandler,
    // The control API's schemas are compiled at their first use, not before the first answer.
    schemaController: { compilersFactory: { buildValidator: lazyValidatorBuilder(), buildSerializer: lazySerializerBuilder() } },
  } as FastifyServerOptions) as unknown as FastifyInstance;

  app.decorate('instance', randomBytes(16).toString('hex'));
  app.decorate('frontDoor', frontDoor);

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    const fields: Record<string, string[]> = {};
    for (const [k, v] of new URLSearchParams(body as string)) (fields[k] ??= []).push(v);
    done(null, fields);
  });

  await app.register(multipart, {
    // Keep the client's filename whole, so a path in it is refused rather than silently cut.
    preservePath: true,
    // The limits of forms read whole (upload-form.ts) for those that stream through busboy.
    limits: { fileSize: settings.maxUploadBytes, fieldSize: 8 * 1024 * 1024, ...FORM_LIMITS },
    // A part is a file when it has a filename, as in forms read whole: busboy would also take
    // a field sent as application/octet-stream for one (and a 'content' part with no filename
    // then failed the filename check with a 500).
    isPartAFile: (_field: string | undefined, _type: string | undefined, filename: string | undefined) => filename !== undefined,
  });
  await app.register(indexPlugin, {
    catalogFile: layout.catalogFile,
    packagesDir: settings.packagesDir,
    overwrite: settings.overwrite,
    ...(settings.catalog && settings.storage ? { shared: { catalog: settings.catalog, storage: settings.storage, spoolDir: layout.spoolDir } } : {}),
    ...opts.events,
  });
  await app.register(upstreamPlugin, {
    config: upstreamConfigOf(settings),
    dir: layout.upstreamDir,
    ...(opts.upstreamTimeoutMs !== undefined ? { timeoutMs: opts.upstreamTimeoutMs } : {}),
  });
  await app.register(watcherPlugin, { watch: settings.watch, afterListen: opts.indexAfterListen ?? false });
  await app.register(boardsPlugin, { cacheDir: layout.boardCacheDir });
  await app.register(authPlugin, {
    dataDir: layout.dataDir,
    authenticate: settings.authenticate,
    ...(settings.htpasswdFile ? { htpasswdFile: settings.htpasswdFile } : {}),
  });
  await app.register(watchesPlugin, {
    dataDir: layout.dataDir,
    packagesDir: settings.packagesDir,
    authenticate: settings.authenticate,
    ...(opts.watchSettleMs !== undefined ? { settleMs: opts.watchSettleMs } : {}),
  });
  await app.register(folderHealthPlugin, {
    folders: [
      { label: 'data folder', path: layout.dataDir },
      { label: 'packages folder', path: settings.packagesDir },
    ],
    files: [{ label: 'catalog', path: layout.catalogFile, fix: 'restart pyrepo to rebuild it from the packages folder' }],
  });

  if (app.shared) {
    const shared = app.shared;
    const startedAt = new Date().toISOString();
    app.addHook('onListen', (done) => {
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : settings.port;
      // What the other daemons' `status` lists: an address they can reach this one at.
      const host = settings.host === '0.0.0.0' || settings.host === '::' ? hostname() : settings.host;
      const url = settings.publicUrl ?? `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
      shared.announce({ instance: app.instance, url, host: hostname(), pid: process.pid, version: PYREPO_VERSION, startedAt });
      done();
    });
  }

  if (settings.accessLog) {
    app.addHook('onResponse', (req, reply, done) => {
      // Who (the user, or a token's user, id and name: never a password or secret) and, for
      // a change, what it changed: the line alone answers "who deleted this file?".
      const who = req.identity || req.change ? { user: app.actorOf(req).user } : {};
      const change = req.change;
      const what = change
        ? {
            action: change.action,
            project: change.project,
            ...(change.version !== undefined ? { version: change.version } : {}),
            ...(change.files?.length === 1 ? { file: change.files[0] } : change.files ? { files: change.files } : {}),
          }
        : {};
      req.log.info(
        { method: req.method, url: req.url, status: reply.statusCode, type: reply.getHeader('content-type'), ms: Math.round(reply.elapsedTime), ...who, ...what },
        'request',
      );
      done();
    });
  }

  app.setErrorHandler((error: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    let err = error.validation ? new BadRequest(error.message) : translate(error, settings, req);
    let status = err.statusCode ?? 500;
    if (status < 400) status = 500;
    let message = err.message;
    if (err.code === 'PYREPO_CATALOG_UNAVAILABLE') {
      reply.header('retry-after', String(CATALOG_RETRY_AFTER_S));
    } else if (status >= 500) {
      req.log.error({ err: error }, 'Request failed');
      message = 'Internal server error; the daemon log has the details.';
      err = Object.assign(err, { code: 'PYREPO_INTERNAL' });
    }
    reply.code(status);
    if (req.url.startsWith('/-/')) {
      return reply.send({ statusCode: status, code: err.code ?? 'PYREPO_ERROR', error: reasonPhrase(message), message });
    }
    // Upload clients show the reason phrase (twine) or the body (poetry, uv): say it in both.
    reply.raw.statusMessage = reasonPhrase(message);
    return reply.type('text/plain; charset=utf-8').send(`${message}\n`);
  });

  app.setNotFoundHandler((req, reply) => {
    const message = `Nothing at ${req.method} ${req.url.split('?')[0]}. The index is at /simple/, uploads go to /legacy/.`;
    reply.code(404);
    if (req.url.startsWith('/-/')) return reply.send({ statusCode: 404, code: 'PYREPO_NOT_FOUND', error: 'Not Found', message });
    return reply.type('text/plain; charset=utf-8').send(`${message}\n`);
  });

  const publicUrl = settings.publicUrl ? { publicUrl: settings.publicUrl } : {};
  await app.register(simpleRoutes);
  await app.register(fileRoutes);
  await app.register(pypiJsonRoutes, publicUrl);
  // MicroPython boards: upip at the root and on /pypi/ (told apart from pypiJsonRoutes there), mip under /mip/.
  await app.register(upipRoutes, publicUrl);
  await app.register(mipRoutes, publicUrl);
  await app.register(landingRoutes, publicUrl);
  await app.register(projectRoutes, publicUrl);
  await app.register(uploadRoutes, {
    maxUploadBytes: settings.maxUploadBytes,
    ...(opts.uploadIdleTimeoutMs !== undefined ? { idleTimeoutMs: opts.uploadIdleTimeoutMs } : {}),
  });
  await app.register(controlRoutes, {
    authenticate: settings.authenticate,
    dataDir: layout.dataDir,
    packagesDir: settings.packagesDir,
    startedAt: new Date(),
    instance: app.instance,
  });
  await app.register(watchRoutes);
  await app.register(upstreamControlRoutes);
  await app.register(eventRoutes);
  hotPaths(app, { authenticate: settings.authenticate, accessLog: settings.accessLog });
  return app;
}
