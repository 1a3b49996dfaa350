/** The in-process bus behind `/-/events`: the index publishes, SSE streams subscribe. */
import { EventEmitter } from 'node:events';
import type { IndexEvent } from '../../shared/api.js';

type WithoutTime<E> = E extends IndexEvent ? Omit<E, 'time'> : never;

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per open dashboard or `pyrepo logs -f`; there is no leak to warn about.
    this.emitter.setMaxListeners(0);
  }

  publish(event: WithoutTime<IndexEvent>): void {
    this.emitter.emit('event', { ...event, time: new Date().toISOString() } as IndexEvent);
  }

  subscribe(listener: (event: IndexEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  get subscribers(): number {
    return this.emitter.listenerCount('event');
  }
}
