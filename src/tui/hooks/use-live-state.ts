/** The live state of a LiveStore, re-rendering when it changes (at most every batch). */
import { useSyncExternalStore } from 'react';
import type { LiveStore } from '../live/store.js';
import type { LiveIndexState } from '../state/live-index.js';

export function useLiveState(store: LiveStore): LiveIndexState {
  return useSyncExternalStore(store.subscribe, store.getState);
}
