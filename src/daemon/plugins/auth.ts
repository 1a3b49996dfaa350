/**
 * Access control, before routing and before any body is read: every request is one of
 * `list` (index pages, JSON APIs), `download` (files), `upload` or `admin` (the control
 * API, always protected; `/-/health` is open), and the settings say which of the first
 * three need credentials.
 *
 * - No credentials where they are needed: 401 with `WWW-Authenticate: Basic`, the same
 *   for every path, existing or not, so private project names do not leak.
 * - Credentials are HTTP Basic: a user and password from the htpasswd file, or an API
 *   token as the password (user `__token__`, as PyPI does, or the token's own user).
 *   Wrong credentials: 401; failed attempts are throttled per address and user (429).
 * - A role or token that does not allow the action: 403. Whether an upload may go to a
 *   given project (owners, maintainers, token scopes) is decided once the project is known,
 *   by the rule in upload-policy.ts that auto-publish applies too.
 * - API tokens never open the control API, not even an admin's: they are what tools and CI
 *   keep in files (`pyrepo configure` writes them there), and a token that leaks from a
 *   config file must not be able to delete releases or manage users. PyPI's tokens cannot
 *   manage accounts either. The control API takes the admin's password.
 *
 * - `/-/health` is open: credentials sent with it are checked like anywhere else, and an
 *   admin's get the full answer on an index whose reads need credentials (see control.ts).
 *
 * Credentials never reach a log line, an error message or an event; who made a change
 * does ({@link actorName}: the user, or the token's user, id and name).
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { accessFiles } from '../../shared/access-file.js';
import { sharedIdentityFiles } from '../services/shared-identity.js';
import type { AuthAction } from '../../shared/settings.js';
import { Forbidden, TooManyAttempts, Unauthorized } from '../errors.js';
import type { Actor } from '../services/catalog.js';
import { actorName, Identities, type Identity } from '../services/identities.js';
import { LoginThrottle } from '../services/login-throttle.js';
import { checkUpload } from '../services/upload-policy.js';

type Action = AuthAction | 'admin' | 'open';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller, when credentials were sent. */
    identity?: Identity;
  }
  interface FastifyInstance {
    /** Throws 403 unless the caller may upload to (or remove from) `project` (normalized). */
    mayUpload(req: FastifyRequest, project: string): void;
    /** Who is making this request, as the records of changes name them (user null when nobody signed in). */
    actorOf(req: FastifyRequest): Actor;
    identities: Identities;
  }
}

export interface AuthPluginOptions {
  dataDir: string;
  /** An adopted htpasswd file, read in place next to pyrepo's own. */
  htpasswdFile?: string;
  authenticate: AuthAction[];
}

const REALM = 'Basic realm="pyrepo", charset="UTF-8"';
const UPLOAD_PATHS = new Set(['/', '/legacy', '/legacy/']);
/** Longest Authorization header worth decoding (a token or password plus a user name). */
const MAX_AUTH_HEADER = 4096;

/** Which action a request is, from its method and path alone. */
export function actionOf(method: string, url: string): Action {
  const path = url.split('?', 1)[0] as string;
  if (path === '/-/health') return 'open';
  if (path.startsWith('/-/')) return 'admin';
  if (method === 'POST' && UPLOAD_PATHS.has(path)) return 'upload';
  // pypiserver's list of every file is an index page, not a file.
  if (path === '/packages/' || path === '/packages') return 'list';
  // Files: distributions, and what MicroPython boards install (upip tarballs, mip files).
  if (path.startsWith('/packages/') || path.startsWith('/upip/') || path.startsWith('/mip/file/')) return 'download';
  return 'list';
}

/** Decodes `Basic base64(user:password)`; undefined when the header is not that. */
export function parseBasic(header: string): { user: string; password: string } | undefined {
  if (header.length > MAX_AUTH_HEADER) return undefined;
  const m = /^Basic[ ]+([A-Za-z0-9+/]+=*)[ ]*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const at = decoded.indexOf(':');
  if (at < 0 || decoded.includes('\uFFFD')) return undefined;
  return { user: decoded.slice(0, at), password: decoded.slice(at + 1) };
}

async function authPlugin(app: FastifyInstance, opts: AuthPluginOptions): Promise<void> {
  const files = accessFiles(opts.dataDir);
  // In the shared mode, the users and tokens made on the other daemons too (shared-identity.ts keeps those files).
  const shared = app.shared ? sharedIdentityFiles(opts.dataDir) : undefined;
  const identities = new Identities({
    htpasswdFiles: [files.htpasswd, ...(shared ? [shared.htpasswd] : []), ...(opts.htpasswdFile ? [opts.htpasswdFile] : [])],
    accessFiles: [files.access, ...(shared ? [shared.access] : [])],
    warn: (message) => app.log.warn(message),
  });
  const throttle = new LoginThrottle();
  const needed = new Set<Action>(['admin', ...opts.authenticate]);
  app.decorate('identities', identities);
  app.decorateRequest('identity', undefined);

  const challenge = (reply: FastifyReply, message: string) => {
    reply.header('www-authenticate', REALM);
    return new Unauthorized(message);
  };

  /** Checks the credentials a request to `action` needs, setting req.identity; throws when they are missing or wrong. */
  const authenticate = async (req: FastifyRequest, reply: FastifyReply, action: Action, header: string | undefined): Promise<void> => {
    if (header === undefined || header === '') {
      throw challenge(reply, action === 'admin' ? 'The control API needs the admin identity.' : `Authentication required to ${action}.`);
    }
    const creds = parseBasic(header);
    if (!creds) throw challenge(reply, 'The Authorization header is not HTTP Basic credentials (user:password in base64).');
    const wait = throttle.retryAfter(req.ip, creds.user);
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      throw new TooManyAttempts(String(wait));
    }
    const result = await identities.check(creds.user, creds.password);
    if (!result.ok) {
      throttle.failed(req.ip, creds.user);
      throw challenge(reply, result.reason);
    }
    throttle.succeeded(req.ip, creds.user);
    const who = result.identity;
    req.identity = who;
    if (action === 'admin') {
      if (who.token) throw new Forbidden(`API tokens (here ${who.token.id}) cannot use the control API; it takes the admin's password.`);
      if (who.role !== 'admin') throw new Forbidden(`The user '${who.user}' is not an admin.`);
    }
    if (action === 'upload') {
      if (who.role === 'reader') throw new Forbidden(`The user '${who.user}' may only read (role reader).`);
      if (who.token?.readOnly) throw new Forbidden(`The token ${who.token.id} is read-only.`);
    }
  };

  // A callback hook, not an async one: most requests (every download and page of an index
  // open for reading) need no credentials and pass without a promise and its extra turn.
  app.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    const action = actionOf(req.method, req.url);
    const header = req.headers.authorization;
    // Health is open; credentials sent with it are checked, so that an admin gets the whole answer.
    if (action === 'open' && (header === undefined || header === '')) return done();
    // What is open is open to everyone: credentials sent anyway (twine always sends some)
    // are not looked at, as pypiserver does.
    if (action !== 'open' && !needed.has(action)) return done();
    authenticate(req, reply, action, header).then(() => done(), done);
  });

  app.decorate('mayUpload', (req: FastifyRequest, project: string) => checkUpload(app.index.catalog, req.identity, project));

  app.decorate('actorOf', (req: FastifyRequest): Actor => ({ user: req.identity ? actorName(req.identity) : null, address: req.ip }));
}

export default fp(authPlugin, { name: 'pyrepo-auth', dependencies: ['pyrepo-index'] });
