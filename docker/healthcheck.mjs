// The image's HEALTHCHECK: GET /-/health from the daemon inside the container, with Node
// itself (slim images have no curl). The port and scheme come from the state file the
// daemon writes once it listens, so `--port` or TLS given to `pyrepo serve` need no change here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

const home = process.env.PYREPO_HOME ?? '/var/lib/pyrepo';
let state = {};
try {
  state = JSON.parse(readFileSync(join(home, 'data', 'daemon.json'), 'utf8'));
} catch {
  // Not written yet (still starting) or another data folder: try the default port.
}
const port = Number(state.port) || 8645;
const tls = typeof state.url === 'string' && state.url.startsWith('https:');
const { request } = await import(tls ? 'node:https' : 'node:http');

// The certificate names the public host, not 127.0.0.1: this asks only whether it answers.
const req = request({ host: '127.0.0.1', port, path: '/-/health', timeout: 4000, rejectUnauthorized: false }, (res) => {
  res.resume();
  if (res.statusCode !== 200) process.stderr.write(`/-/health answered ${res.statusCode}\n`);
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('no answer within 4 s')));
req.on('error', (err) => {
  process.stderr.write(`/-/health on port ${port}: ${err.message}\n`);
  process.exit(1);
});
req.end();
