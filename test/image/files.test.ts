/**
 * The container files' essential facts, checked on every run (building and running the image
 * is the opt-in test/e2e/container.test.ts): the Dockerfile's stages, user, volume, entry,
 * stop signal and HEALTHCHECK; .dockerignore letting in what the Dockerfile copies; the
 * compose file's two daemons on PostgreSQL and S3 behind one port, with health checks and
 * start-up order.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT } from '../helpers/daemon.js';
import { DAEMON_NODE_FLAGS } from '../../src/shared/heap-limits.js';


const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
  /** 0 for the build stage, 1 for the runtime stage, -1 before the first FROM. */
  stage: number;
}

/** The Dockerfile's instructions, continuation lines joined and comments left out. */
function dockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    pending += `${line.replace(/\\$/, '')} `;
    if (line.endsWith('\\')) continue;
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(pending.trim()) ?? [];
    pending = '';
    if (keyword.toUpperCase() === 'FROM') stage += 1;
    out.push({ keyword: keyword.toUpperCase(), args: args.trim(), stage });
  }
  return out;
}

const instructions = dockerfile(read('Dockerfile'));
const inStage = (stage: number, keyword: string) => instructions.filter((i) => i.stage === stage && i.keyword === keyword).map((i) => i.args);
const last = (keyword: string) => inStage(1, keyword).at(-1);

describe('Dockerfile', () => {
  it('builds on Node 24 LTS by default, replaceable with the NODE_IMAGE build argument, in two stages', () => {
    expect(inStage(-1, 'ARG')).toEqual(['NODE_IMAGE=node:24-bookworm-slim']);
    expect(instructions.filter((i) => i.keyword === 'FROM').map((i) => i.args)).toEqual(['${NODE_IMAGE} AS build', '${NODE_IMAGE}']);
  });

  it('runs the commands CI runs in the build stage, and takes only dist/ and the production node_modules into the runtime stage', () => {
    const runs = inStage(0, 'RUN').join('\n');
    expect(runs).toMatch(/\bnpm ci\b/);
    expect(runs).toMatch(/\bnpm run build\b/);
    expect(runs).toMatch(/\bnpm (prune|ci) --omit=dev\b/);
    expect(inStage(1, 'COPY').filter((a) => a.startsWith('--from=build'))).toEqual([
      '--from=build /src/package.json ./',
      '--from=build /src/node_modules ./node_modules',
      '--from=build /src/dist ./dist',
    ]);
  });

  it('runs as a user that is not root, with its data folder a volume, and pyrepo serve on every address as the entry', () => {
    const user = last('USER');
    expect(user).toBeDefined();
    expect(['root', '0'], 'the last USER is not root').not.toContain(user?.split(':')[0]);
    // The user comes after the last step that needs root.
    const lastUserAt = instructions.findLastIndex((i) => i.stage === 1 && i.keyword === 'USER');
    expect(instructions.findLastIndex((i) => i.stage === 1 && i.keyword === 'RUN')).toBeLessThan(lastUserAt);
    expect(inStage(1, 'ENV').join(' ')).toMatch(/\bPYREPO_HOME=\/var\/lib\/pyrepo\b/);
    // The daemon's memory settings, as `pyrepo start` gives them (heap-limits.ts).
    expect(inStage(1, 'ENV').join(' ')).toMatch(/\bMALLOC_ARENA_MAX=2\b/);
    expect(inStage(1, 'ENV').join(' ')).toMatch(new RegExp(`\\bNODE_OPTIONS=${DAEMON_NODE_FLAGS.join(' ')}(\\s|$)`));
    expect(inStage(1, 'VOLUME')).toEqual(['/var/lib/pyrepo']);
    expect(inStage(1, 'EXPOSE')).toEqual(['8645']);
    // Exec form: the daemon is PID 1 and gets SIGTERM itself (a shell would not pass it on).
    expect(JSON.parse(last('ENTRYPOINT') ?? 'null')).toEqual(['pyrepo', 'serve', '--host', '0.0.0.0']);
    expect(inStage(1, 'CMD')).toEqual([]);
    expect(last('STOPSIGNAL')).toBe('SIGTERM');
  });

  it('has a HEALTHCHECK that asks /-/health with node (no curl in slim images)', () => {
    const check = last('HEALTHCHECK') ?? '';
    const command = /\bCMD (\[.*\])$/.exec(check)?.[1];
    expect(command, check).toBeDefined();
    const argv = JSON.parse(command ?? '[]') as string[];
    expect(argv[0]).toBe('node');
    expect(argv[1]).toBe('/opt/pyrepo/docker/healthcheck.mjs');
    expect(inStage(1, 'COPY')).toContain('docker/healthcheck.mjs ./docker/');
    const script = read('docker/healthcheck.mjs');
    expect(script).toMatch(/path: '\/-\/health'/);
    expect(script).toMatch(/process\.exit\(res\.statusCode === 200 \? 0 : 1\)/);
  });

  it('.dockerignore lets in every file the Dockerfile copies from the build context, and no node_modules', () => {
    const ignore = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const sources = instructions
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1))
      .map((s) => s.replace(/\/$/, ''));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(
        allowed.some((a) => source === a || source.startsWith(`${a}/`)),
        `${source} is copied but .dockerignore leaves it out`,
      ).toBe(true);
    }
    expect(allowed.some((a) => a.includes('node_modules'))).toBe(false);
  });
});

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
}

describe('compose.yaml', () => {
  const compose = parseYaml(read('compose.yaml'), { merge: true }) as { services: Record<string, Service> };
  const services = compose.services;
  const daemons = Object.entries(services).filter(([, s]) => s.build !== undefined);

  it('has PostgreSQL, MinIO with a one-shot service that makes the bucket, two pyrepo daemons and an nginx proxy', () => {
    expect(services.postgres?.image).toMatch(/^postgres:\d+/);
    expect(services.minio?.image).toMatch(/^minio\/minio:/);
    expect(services.bucket?.entrypoint).toEqual(['mc', 'mb', '--ignore-existing', 'minio/pyrepo']);
    expect(services.bucket?.restart).toBe('no');
    expect(daemons.map(([name]) => name)).toEqual(['pyrepo-1', 'pyrepo-2']);
    expect(services.proxy?.image).toMatch(/^nginx:/);
  });

  it('gives each daemon the shared catalog and storage, with the password outside the URL and the S3 settings from AWS variables', () => {
    for (const [name, daemon] of daemons) {
      const args = daemon.command ?? [];
      const catalog = args[args.indexOf('--catalog') + 1] ?? '';
      expect(catalog, name).toMatch(/^postgres:\/\/[^:@/]+@postgres:5432\/\w+$/);
      expect(args[args.indexOf('--storage') + 1], name).toBe('s3://pyrepo/packages');
      expect(Object.keys(daemon.environment ?? {}).sort(), name).toEqual(
        ['AWS_ACCESS_KEY_ID', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'AWS_S3_FORCE_PATH_STYLE', 'AWS_SECRET_ACCESS_KEY', 'PGPASSWORD'].sort(),
      );
      expect(daemon.environment?.AWS_ENDPOINT_URL_S3).toBe('http://minio:9000');
      // Each daemon its own data folder (settings, state file, the admin's password).
      expect(daemon.volumes, name).toEqual([`${name}-data:/var/lib/pyrepo`]);
    }
  });

  it('starts in order by health: the daemons after PostgreSQL and the bucket, the proxy after both daemons', () => {
    for (const name of ['postgres', 'minio', 'pyrepo-1', 'pyrepo-2', 'proxy']) {
      expect(services[name]?.healthcheck?.test?.[0], `${name} has a health check`).toBe('CMD');
    }
    expect(services['pyrepo-1']?.healthcheck?.test).toEqual(['CMD', 'node', '/opt/pyrepo/docker/healthcheck.mjs']);
    expect(services.bucket?.depends_on).toEqual({ minio: { condition: 'service_healthy' } });
    for (const [name, daemon] of daemons) {
      expect(daemon.depends_on, name).toEqual({ postgres: { condition: 'service_healthy' }, bucket: { condition: 'service_completed_successfully' } });
    }
    expect(services.proxy?.depends_on).toEqual({ 'pyrepo-1': { condition: 'service_healthy' }, 'pyrepo-2': { condition: 'service_healthy' } });
  });

  it('publishes one port, on loopback, from the proxy only, which sends requests to both daemons', () => {
    const published = Object.entries(services).filter(([, s]) => s.ports?.length);
    expect(published.map(([name]) => name)).toEqual(['proxy']);
    expect(services.proxy?.ports).toEqual(['127.0.0.1:${PYREPO_PORT:-8645}:8080']);
    expect(services.proxy?.volumes).toEqual(['./docker/nginx.conf:/etc/nginx/conf.d/default.conf:ro']);
    const nginx = read('docker/nginx.conf').replace(/#.*$/gm, '');
    const upstream = /upstream pyrepo \{([^}]*)\}/.exec(nginx)?.[1] ?? '';
    expect([...upstream.matchAll(/server (\S+?)(?::\d+)? /g)].map((m) => m[1])).toEqual(['pyrepo-1', 'pyrepo-2']);
    expect(upstream).toMatch(/server pyrepo-1:8645\b/);
    expect(nginx).toMatch(/listen 8080;/);
    expect(nginx).toMatch(/proxy_pass http:\/\/pyrepo;/);
    // pyrepo's own upload limit decides, with its own message.
    expect(nginx).toMatch(/client_max_body_size 0;/);
  });
});
