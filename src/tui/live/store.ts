/**
 * Holds the live state outside React and tells the screen when it changed. Events are
 * queued and applied together at most every `flushMs` (100 ms: ten frames a second at
 * most, however many downloads a second arrive); everything else applies at once,
 * after whatever events were waiting.
 */
import { initialLiveIndex, liveIndexReducer, type LiveIndexAction, type LiveIndexState } from '../state/live-index.js';
import type { LiveEvent } from '../state/model.js';

export class LiveStore {
  private state: LiveIndexState;
  private queue: LiveEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly flushMs = 100,
    initial: LiveIndexState = initialLiveIndex,
  ) {
    this.state = initial;
  }

  getState = (): LiveIndexState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  dispatch(action: LiveIndexAction): void {
    this.applyQueue();
    this.state = liveIndexReducer(this.state, action);
    this.emit();
  }

  /** Queues an event for the next batch. */
  enqueue(event: LiveEvent): void {
    this.queue.push(event);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      if (this.applyQueue()) this.emit();
    }, this.flushMs);
  }

  /** Stops the batch timer (the queue is dropped). */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    this.listeners.clear();
  }

  private applyQueue(): boolean {
    if (this.queue.length === 0) return false;
    const events = this.queue;
    this.queue = [];
    this.state = liveIndexReducer(this.state, { type: 'events', events });
    return true;
  }

  private emit(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
