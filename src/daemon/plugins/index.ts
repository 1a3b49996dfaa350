/**
 * The index's services as one fastify plugin: the catalog (closed on shutdown, with
 * download counts flushed every second), the packages folder, the event bus and the
 * index service, decorated onto the instance for routes to use. The last event id is kept
 * in the catalog with the counts, so that the next run's ids start above it whatever the
 * clock says.
 */
import { dirname, join } from 'node:path';
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { EventBus } from '../services/events.js';
import { IndexService } from '../services/index-service.js';
import { PackageStorage } from '../services/storage.js';
import { LocalCatalog } from '../stores/local-catalog.js';
import { FolderBlobs } from '../stores/folder-blobs.js';
import { PageFile } from '../services/page-file.js';
import { removeLeftovers, SpooledPages } from '../services/spooled-pages.js';
import type { IndexReader } from '../services/index-reader.js';
import type { Publisher } from '../services/publisher.js';
import type { SharedIndex } from '../services/shared-index.js';
import { SharedIdentity } from '../services/shared-identity.js';
import { AppSettingsError } from '../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The index put together; routes use its reader and publisher only. */
    index: IndexService;
    /** Pages, details, files to serve and download counts (services/index-reader.ts). */
    reader: IndexReader;
    /** Every change to the index (services/publisher.ts). */
    publisher: Publisher;
    events: EventBus;
    /** The shared catalog and bucket, in the shared mode. */
    shared: SharedIndex | undefined;
    /** Large pages kept in files of their own until the catalog changes, `maxVariants` renderings at most (services/spooled-pages.ts). */
    spooledPages(maxVariants: number): SpooledPages;
  }
  interface FastifyRequest {
    /** What this request changes on the index, for its access-log line (set by the routes that change something). */
    change?: RequestChange;
  }
}

/** The project, release and files a request uploads, deletes, yanks or unyanks. */
export interface RequestChange {
  action: 'upload' | 'delete' | 'yank' | 'unyank';
  project: string;
  version?: string;
  /** The file uploaded, or the files deleted. */
  files?: string[];
}

export interface IndexPluginOptions {
  catalogFile: string;
  packagesDir: string;
  overwrite: boolean;
  /** Events kept for reconnecting clients (EventBusOptions.ringSize). */
  ringSize?: number;
  /** How long downloads are gathered into one event (DOWNLOAD_BATCH_MS). */
  downloadBatchMs?: number;
  /** The shared mode: the PostgreSQL catalog and the bucket this daemon shares with others. */
  shared?: { catalog: string; storage: string; spoolDir: string };
}

/** The catalog's meta key of the newest event id. */
const LAST_EVENT_ID = 'last-event-id';

async function indexPlugin(app: FastifyInstance, opts: IndexPluginOptions): Promise<void> {
  const storage = new PackageStorage(opts.packagesDir);
  if (opts.shared) {
    // The shared mode has no reconcile (the folder is this daemon's copy): unfinished uploads of an earlier run go here.
    const removed = await storage.prepare();
    if (removed.length > 0) app.log.info(`Removed ${removed.length} unfinished upload(s) left by an earlier stop.`);
  } else {
    // Not listed here: the first reconcile removes unfinished uploads of an earlier run.
    await storage.create();
  }
  // Loaded only in the shared mode: the PostgreSQL and S3 clients cost a daemon on its own
  // folder 70 ms at every start (pg probes for Cloudflare's runtime by building a fetch Response).
  const shared = opts.shared
    ? await (await import('../services/shared-index.js')).SharedIndex.open({ catalogUrl: opts.shared.catalog, storageUrl: opts.shared.storage, spoolDir: opts.shared.spoolDir, log: app.log }).catch((err: unknown) => {
        throw new AppSettingsError((err as Error).message);
      })
    : undefined;
  const local = LocalCatalog.open(opts.catalogFile);
  // The embedded catalog underneath: its download counts and event id are written here every second.
  const catalog = local.catalog;
  const { records, damaged } = catalog.journalRecovered;
  if (records > 0) app.log.info({ records }, 'Folded the download counts the last run journaled but did not write into the catalog');
  if (damaged > 0) {
    app.log.warn({ damaged }, 'Left out lines of the download journal that were not whole (the end of a write the machine did not finish): those counts are lost');
  }
  const blobs = new FolderBlobs(storage);
  // Rendered pages live in a file next to the catalog (unlinked once open), not in memory.
  const pageFile = new PageFile(join(dirname(opts.catalogFile), '.pages.tmp'));
  // Large pages too, each in its own file (unlinked once open).
  removeLeftovers(dirname(opts.catalogFile));
  const spooled: SpooledPages[] = [];
  const events = new EventBus({
    previousId: Number(catalog.metaValue(LAST_EVENT_ID) ?? 0) || 0,
    serial: () => local.serial,
    ...(opts.ringSize ? { ringSize: opts.ringSize } : {}),
  });
  const index = new IndexService({
    catalog: local,
    blobs,
    events,
    log: app.log,
    overwrite: opts.overwrite,
    pageFile,
    ...(shared ? { primary: shared } : {}),
    ...(opts.downloadBatchMs !== undefined ? { downloadBatchMs: opts.downloadBatchMs } : {}),
  });
  // Saved at the first tick even before any event: the position a snapshot reports then is this run's start.
  let savedEventId = -1;
  const saveEventId = () => {
    if (events.lastId === savedEventId) return;
    catalog.setMetaValue(LAST_EVENT_ID, String(events.lastId));
    savedEventId = events.lastId;
  };
  app.decorate('index', index);
  app.decorate('reader', index.reader);
  app.decorate('publisher', index.publisher);
  app.decorate('events', events);
  app.decorate('shared', shared);
  app.decorate('spooledPages', (maxVariants: number) => {
    const pages = new SpooledPages(dirname(opts.catalogFile), () => index.reader.serial, maxVariants);
    spooled.push(pages);
    return pages;
  });
  let identity: SharedIdentity | undefined;
  if (shared) {
    // Before the first request: a token made on another daemon works here from the start.
    identity = new SharedIdentity(shared.catalog, catalog, dirname(opts.catalogFile), app.log);
    shared.onIdentityChange = () => void identity?.sync();
    await identity.start();
  }
  app.decorateRequest('change', undefined);
  const flush = setInterval(() => {
    try {
      saveEventId();
      catalog.flushDownloads();
    } catch (err) {
      app.log.error({ err }, 'Could not write download counts');
    }
  }, 1000);
  flush.unref();
  app.addHook('onClose', async () => {
    clearInterval(flush);
    index.reader.flushDownloadEvents();
    saveEventId();
    await identity?.stop();
    await shared?.close(app.instance);
    catalog.close();
    pageFile.close();
    for (const pages of spooled) pages.close();
    await blobs.close();
  });
}

export default fp(indexPlugin, { name: 'pyrepo-index' });
