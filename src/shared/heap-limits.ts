/**
 * Keeps the daemon's JavaScript heap near what it holds, instead of V8's defaults for a
 * program with gigabytes to spare. The daemon applies it when it starts; `pyrepo serve`,
 * which runs the daemon in its own process, before it loads anything.
 *
 * Measured at 60,000 files, the daemon held about 30 MB at start and 80 MB once every
 * page was rendered, yet its resident size passed 260 MB: V8 grew the young generation
 * to 32 MB (16 MB semi-spaces) during the first scan's burst of short-lived objects, and let
 * the old generation run to three or four times the live size between full collections.
 * Both settings are read by V8 each time it resizes, so they take effect when set at run
 * time; neither changes what a collection keeps, only how soon the next one comes.
 *
 * - The young generation stays at its starting size (1 MB semi-spaces) in most runs: a
 *   request's garbage is a few kilobytes, and a scavenge of a small space with few survivors
 *   is short. What starts the daemon also bounds it at 2 MB semi-spaces from the command line
 *   ({@link DAEMON_NODE_FLAGS}), which nothing at run time undoes. Without that bound, V8's
 *   flags are set back while a worker thread starts, and the young generation then grows to
 *   16 MB semi-spaces until the thread's 'online' event puts the setting back (it does not
 *   shrink again). The daemon starts no thread under load since download counts are journaled
 *   on its own thread (download-journal.ts): the writer thread they had, started by a load's
 *   first downloads, let the young generation grow in some runs and not in others, and the
 *   serving peak varied by up to 24 MB with it (149-175 MB). Without it, under random
 *   downloads of 60,000 files (three alternated runs of 8-10 rounds), the young generation
 *   kept its size, the peak was 7-29 MB lower, and the downloads' p99 no higher.
 * - After a full collection the old generation may grow by a fifth before the next one. While
 *   downloads promoted several megabytes a second, that meant about three full collections a
 *   second under random downloads of 60,000 files, pausing the daemon 2-12 ms each, and
 *   serving allowed half (downloads' p99 6.9 ms with a fifth, 3.9-4.0 ms with half, for 8 MB
 *   more at the peak). They promote a few hundred kilobytes a second now: with a fifth,
 *   pages and downloads were as fast and the download p99 no higher (2.0 against 2.3 ms, two
 *   alternated rounds), and what uploads leave behind is collected before it adds up.
 */
import { setFlagsFromString } from 'node:v8';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** How much the old generation may grow after a full collection before the next, in percent. */
const GROWTH_PERCENT = 20;

let applied = false;

function apply(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString(`--heap-growing-percent=${GROWTH_PERCENT}`);
}

/** Applies the daemon's heap sizing to this process. */
export function keepHeapSmall(): void {
  applied = true;
  apply();
}

/**
 * Node sets V8's flags back to their start-up values while a worker thread starts (the
 * young generation then grew to 32 MB again): applies the daemon's sizing again, if the
 * daemon asked for it, at the next turn of the event loop and once `worker` runs. Measured
 * with a small script, the flags are set back before the main thread's next turn: applied
 * then, the young generation kept its 2 MB in 4 of 5 runs (4 MB in the fifth); applied only
 * at 'online', it grew to 32 MB. At the daemon's start, the admin's bcrypt check on its thread
 * let it grow to 8 MB, which it kept under every load after.
 */
export function keepHeapSmallAfter(worker: Worker): void {
  if (!applied) return;
  setImmediate(apply);
  worker.once('online', apply);
}

/**
 * Starts a worker thread that keeps the daemon's heap sizing ({@link keepHeapSmallAfter}):
 * every thread the daemon's process starts is started here (one started without it, the
 * admin's bcrypt check, grew the young generation to 32 MB again).
 */
export function startThread(source: string, options: WorkerOptions): Worker {
  const worker = new Worker(source, options);
  keepHeapSmallAfter(worker);
  return worker;
}

/**
 * The glibc malloc arenas the daemon is started with, by what starts it (`pyrepo start`, the
 * systemd unit, the container image): glibc reads `MALLOC_ARENA_MAX` only when a process
 * starts, so the daemon cannot set it for itself. By default each thread that allocates (V8's
 * compiler and collector helpers, libuv's thread pool) gets an arena of its own, which keeps
 * what it freed: under downloads of 60,000 files the daemon's peak was 148-154 MB with the
 * default, 134-140 MB with two arenas (one: 135 MB), for the same throughput. A value the
 * user set is kept. (`pyrepo serve` run by hand is started by its caller, as it was.)
 */
export const DAEMON_MALLOC_ARENAS = '2';

/** The environment variables the daemon is started with, on top of `env`. */
export function daemonMallocEnv(env: NodeJS.ProcessEnv): { MALLOC_ARENA_MAX: string } {
  return { MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX ?? DAEMON_MALLOC_ARENAS };
}

/**
 * The Node options the daemon is started with, before its script, by what starts it (`pyrepo
 * start`, the systemd and launchd services; the container image sets them in NODE_OPTIONS).
 *
 * A bound on the young generation that nothing at run time undoes: semi-spaces of at most
 * 2 MB. `--semi-space-growth-factor=1` ({@link keepHeapSmall}) keeps them at 1 MB in most runs,
 * but not in all: in one bench run the daemons' young generations were 2, 4, 8 and 16 MB
 * (both semi-spaces), grown in the first second after the spawn, and the one with 16 MB was
 * 14 MB larger all along; a small script allocating with many survivors grew it to 32 MB with
 * the factor set on the command line too. With 1 MB as the bound, pages and downloads were
 * 15-20% slower and the download p99 7.5 ms (two alternated rounds); with 2 MB, as fast as
 * without a bound, and no larger.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
