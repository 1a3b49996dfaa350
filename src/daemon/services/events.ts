/**
 * The in-process bus behind `/-/events`: the index publishes, SSE streams subscribe.
 *
 * Every event gets an id, one more than the last. The first id of a run is above every id
 * an earlier run gave (it starts from the time, in microseconds, or from the last id the
 * catalog kept, whichever is larger), so a client that comes back with an id from before a
 * restart is recognised as such and never told that it missed nothing. The newest events
 * are kept in a ring bounded by count and by size, from which a reconnecting client gets what
 * it missed; one that missed more is told to take a new snapshot (resync 'expired').
 *
 * The size bound matters under load: a `downloads` event lists every file downloaded in its
 * quarter second, so 4,096 of them held hundreds of megabytes (measured: the heap grew by
 * 6 MB per 50,000 downloads of random files, without end until the ring wrapped).
 */
import { EventEmitter } from 'node:events';
import type { IndexEvent, ResyncReasonSchema } from '../../shared/api.js';
import type { Static } from '@sinclair/typebox';
import type { PackedDownloads } from './download-batch.js';

/** What a publisher says: the bus adds the time and, to a change of the catalog, its serial. */
type Published<E> = E extends IndexEvent ? Omit<E, 'time' | 'serial'> : never;

/** The events that change the catalog, which carry its serial. */
const CATALOG_CHANGES: ReadonlySet<IndexEvent['type']> = new Set(['upload', 'delete', 'yank', 'unyank']);

/** An event with the id it was published under, and its JSON text (made once, for every stream). */
export interface NumberedEvent {
  id: number;
  event: IndexEvent;
  readonly json: string;
  /** For a `downloads` event, the project of each file, read without making the event's list of files. */
  readonly projects?: Iterable<string>;
}

/**
 * An event on the bus: its JSON is made when a stream first writes it, not when it is
 * published. A `downloads` event lists every file downloaded in its quarter second (5,000
 * under random downloads of 6,000 files): made at once, with no stream open to send it to,
 * its JSON stalled the daemon for milliseconds four times a second (downloads' p99 was 8 ms,
 * 2.5 to 3.5 ms without these events) and kept two megabytes of text in memory for nobody.
 */
class BusEvent implements NumberedEvent {
  private text: string | undefined;
  /** What the event counts for in the ring's bound: its JSON's length, or for downloads an estimate of it. */
  readonly chars: number;

  constructor(
    readonly id: number,
    readonly event: IndexEvent,
    estimatedChars?: number,
    readonly projects?: Iterable<string>,
    /** Called once the ring lets the event go: what it holds may be used again. */
    readonly release?: () => void,
  ) {
    this.chars = estimatedChars ?? this.json.length;
  }

  get json(): string {
    return (this.text ??= JSON.stringify(this.event));
  }
}

export type Replay = { events: NumberedEvent[] } | { resync: Static<typeof ResyncReasonSchema> };

export interface EventBusOptions {
  /** The last id an earlier run gave, if known: this run's ids start above it. */
  previousId?: number;
  /** How many of the newest events are kept for reconnecting clients. Default: 4,096. */
  ringSize?: number;
  /** How many characters of JSON those events may take together, at most (downloads' estimated). Default: 2 MB. */
  ringChars?: number;
  /** The catalog's serial now (default: 0, for a bus without a catalog). */
  serial?: () => number;
  /** The clock (tests). */
  now?: () => number;
}

export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly ring: (BusEvent | undefined)[];
  private readonly maxChars: number;
  private chars = 0;
  /** The id of the oldest event the ring still holds (one past the newest when it is empty). */
  private oldest: number;
  /**
   * The position before this run's first event: ids up to it are an earlier run's. A client
   * told this position (a snapshot taken before any event) resumes from it like from an event.
   */
  readonly startId: number;
  private last: number;
  private readonly serial: () => number;

  constructor(options: EventBusOptions = {}) {
    // One listener per open dashboard or `pyrepo logs -f`; there is no leak to warn about.
    this.emitter.setMaxListeners(0);
    this.ring = new Array<BusEvent | undefined>(Math.max(1, options.ringSize ?? 4096));
    this.maxChars = options.ringChars ?? 2 * 1024 * 1024;
    this.serial = options.serial ?? (() => 0);
    this.startId = Math.max((options.now ?? Date.now)() * 1000, (options.previousId ?? 0) + 1);
    this.last = this.startId;
    this.oldest = this.startId + 1;
  }

  /** The id of the newest event (`startId` before the first). */
  get lastId(): number {
    return this.last;
  }

  /**
   * Numbers an event and hands it to every subscriber. A change of the catalog is published
   * once it is in the catalog, so the serial read here is its own or a later one: either way,
   * pages at that serial show it.
   */
  publish(event: Published<IndexEvent>): NumberedEvent {
    const stamped = CATALOG_CHANGES.has(event.type) ? { ...event, serial: this.serial() } : event;
    const full = { ...stamped, time: new Date().toISOString() } as IndexEvent;
    return this.add(new BusEvent(++this.last, full));
  }

  /**
   * Publishes a `downloads` event from its packed files (download-batch.ts): the ring keeps
   * them packed, and the event's list of files is made each time it is read (for a stream's
   * JSON, once); a subscriber that needs only the projects reads `projects`. When the ring
   * lets the event go, it releases them (they are written over then): a subscriber reads an
   * event when it is published, and a reconnecting client while the ring holds it.
   */
  publishDownloads(downloads: PackedDownloads): NumberedEvent {
    const event: IndexEvent = {
      type: 'downloads',
      time: new Date().toISOString(),
      get files() {
        return downloads.files();
      },
    };
    return this.add(new BusEvent(++this.last, event, downloads.chars(), downloads.projects, () => downloads.release()));
  }

  private add(numbered: BusEvent): NumberedEvent {
    // The slot's previous event (ring.length ids ago) goes first, then the oldest until the size fits.
    if (numbered.id - this.oldest >= this.ring.length) this.dropOldest();
    this.ring[numbered.id % this.ring.length] = numbered;
    this.chars += numbered.chars;
    while (this.chars > this.maxChars && this.oldest < numbered.id) this.dropOldest();
    this.emitter.emit('event', numbered.event, numbered.id, numbered);
    return numbered;
  }

  private dropOldest(): void {
    const slot = this.oldest % this.ring.length;
    this.chars -= this.ring[slot]?.chars ?? 0;
    this.ring[slot]?.release?.();
    this.ring[slot] = undefined;
    this.oldest += 1;
  }

  /** Calls `listener` with each event, its id and the numbered event (whose JSON is made when first read). */
  subscribe(listener: (event: IndexEvent, id: number, numbered: NumberedEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  /** The events after `lastEventId` (a client's `Last-Event-ID`), or why they cannot be had. */
  since(lastEventId: string): Replay {
    if (!/^\d{1,16}$/.test(lastEventId)) return { resync: 'unknown' };
    const after = Number(lastEventId);
    if (after < this.startId) return { resync: 'restarted' };
    if (after > this.last) return { resync: 'unknown' };
    if (after + 1 < this.oldest) return { resync: 'expired' };
    const events: NumberedEvent[] = [];
    for (let id = after + 1; id <= this.last; id++) events.push(this.ring[id % this.ring.length] as NumberedEvent);
    return { events };
  }

  get subscribers(): number {
    return this.emitter.listenerCount('event');
  }
}
