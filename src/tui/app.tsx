/**
 * The dashboard: the live state (from the connection's store) and the view state (from
 * the keys) rendered into a header, the project list, the detail pane, the activity
 * feed and a footer. One `useInput` for the whole screen; what a key means is decided
 * by the pure `handleKey`, and only its effects (quit, refresh, an admin action) are
 * carried out here.
 */
import { Box, Text, useApp, useInput } from 'ink';
import { useEffect, useMemo, useRef, useState } from 'react';
import { DaemonRequestError } from '../shared/client.js';
import { ActivityFeed } from './components/ActivityFeed.js';
import { ConfirmDialog } from './components/ConfirmDialog.js';
import { DetailPane } from './components/DetailPane.js';
import { Footer } from './components/Footer.js';
import { Header, headerHeight } from './components/Header.js';
import { HelpOverlay } from './components/HelpOverlay.js';
import { ProjectList } from './components/ProjectList.js';
import { useClock } from './hooks/use-clock.js';
import { useLiveState } from './hooks/use-live-state.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { keyPresses } from './keymap.js';
import type { LiveConnection } from './live/connection.js';
import { computeLayout, detailRows, feedRows, listRows, MIN_SIZE, type Size } from './state/layout.js';
import { scrollOffset, tableRows } from './state/project-table.js';
import { handleKey, initialView, selectedName, type Effect, type ViewContext, type ViewState } from './state/view.js';

export interface AppProps {
  connection: LiveConnection;
  readonly: boolean;
  /** A fixed terminal size (tests); otherwise stdout's, following resizes. */
  size?: Size;
  /** A fixed clock (tests). */
  now?: number;
  /** Called once the user asked to quit, before Ink unmounts. */
  onQuit?: () => void;
}

/** A refusal or failure of an admin action, for the status line. */
export function refusalText(err: unknown): string {
  if (err instanceof DaemonRequestError) return err.status === 0 ? `Could not reach the daemon: ${err.message}` : `The daemon refused: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export function App({ connection, readonly, size: fixedSize, now: fixedNow, onQuit }: AppProps) {
  const live = useLiveState(connection.store);
  const size = useTerminalSize(fixedSize);
  const now = useClock(1000, fixedNow);
  const { exit } = useApp();
  const [view, setView] = useState<ViewState>(initialView);
  // Keys may come faster than frames: each one starts from the state the last one left.
  const viewRef = useRef(view);
  const update = (next: ViewState | ((v: ViewState) => ViewState)) => {
    viewRef.current = typeof next === 'function' ? next(viewRef.current) : next;
    setView(viewRef.current);
  };

  // The list's order, sorted again when the list changes, or when counts change and the sort
  // is by them: a storm of downloads in a list sorted by name costs no sort at all.
  const countSorted = view.sort.column === 'downloads' || view.sort.column === 'trend';
  const names = useMemo(
    () => tableRows(live.projects.values(), view.filter, view.sort).map((p) => p.name),
    // live.projects is read through the versions that say when its order may have changed.
    [live.orderVersion, countSorted ? live.countsVersion : -1, view.filter, view.sort],
  );
  const selected = selectedName(view, names);
  useEffect(() => connection.select(selected), [connection, selected]);

  const layout = computeLayout(size, view.focus, headerHeight(live));
  const detail = live.detail?.name === selected ? live.detail?.data : undefined;
  const cursor = selected === undefined ? -1 : names.indexOf(selected);
  const listOffset = scrollOffset(names.length, Math.max(0, cursor), listRows(layout), view.listOffset);
  const visibleFeed = view.feedAnchor === undefined ? live.feed.length : live.feed.filter((f) => f.seq <= (view.feedAnchor as number)).length;

  const ctx: ViewContext = {
    rows: names,
    listHeight: listRows(layout),
    ...(detail ? { detail } : {}),
    detailHeight: detailRows(layout),
    feedLength: visibleFeed,
    feedHeight: feedRows(layout),
    ...(live.feed[0] ? { feedTopSeq: live.feed[0].seq } : {}),
    readonly,
  };
  const ctxRef = useRef(ctx);
  ctxRef.current = ctx;

  const run = (effect: Effect) => {
    switch (effect.kind) {
      case 'quit':
        onQuit?.();
        connection.stop();
        exit();
        return;
      case 'refresh':
        connection.refresh();
        return;
      case 'admin':
        update((v) => ({ ...v, status: { text: 'Asking the daemon…', tone: 'info' } }));
        connection.perform(effect.action, effect.reason).then(
          (text) => update((v) => ({ ...v, status: { text, tone: 'ok' } })),
          (err: unknown) => update((v) => ({ ...v, status: { text: refusalText(err), tone: 'error' } })),
        );
    }
  };

  useInput((input, key) => {
    for (const press of keyPresses(input, key)) {
      const { view: next, effect } = handleKey(viewRef.current, press, ctxRef.current);
      if (next !== viewRef.current) update(next);
      if (effect) run(effect);
      if (effect?.kind === 'quit') return;
    }
  });

  if (layout.kind === 'too-small') {
    return (
      <Box width={size.columns} height={size.rows} flexDirection="column">
        <Text>{`The dashboard needs a terminal of at least ${MIN_SIZE.columns}×${MIN_SIZE.rows}; this one is ${size.columns}×${size.rows}.`}</Text>
        <Text dimColor>Make it larger, or press q to quit.</Text>
      </Box>
    );
  }

  const body = size.rows - layout.header - layout.footer;
  const list = (
    <ProjectList
      names={names}
      projects={live.projects}
      cursor={cursor}
      offset={listOffset}
      width={layout.projects.width}
      height={layout.projects.height}
      sort={view.sort}
      filter={view.filter}
      focused={view.focus === 'projects'}
      loaded={live.loaded}
      now={now}
    />
  );
  const detailPane = (
    <DetailPane
      name={selected}
      detail={live.detail}
      tab={view.tab}
      cursor={view.detailCursor}
      offset={view.detailOffset}
      width={layout.detail.width}
      height={layout.detail.height}
      focused={view.focus === 'detail'}
      url={live.url}
      now={now}
    />
  );
  const feed = (
    <ActivityFeed
      feed={live.feed}
      anchor={view.feedAnchor}
      offset={view.feedOffset}
      width={layout.feed.width}
      height={layout.feed.height}
      focused={view.focus === 'feed'}
    />
  );

  return (
    <Box flexDirection="column" width={size.columns} height={size.rows}>
      <Header live={live} now={now} width={size.columns} readonly={readonly} />
      {view.mode.kind === 'help' ? (
        <HelpOverlay width={size.columns} height={body} readonly={readonly} />
      ) : layout.kind === 'wide' ? (
        <Box flexDirection="row" height={body}>
          {list}
          <Box flexDirection="column" borderStyle="single" borderTop={false} borderRight={false} borderBottom={false} borderDimColor>
            {detailPane}
            {feed}
          </Box>
        </Box>
      ) : (
        <Box flexDirection="column" height={body}>
          {list}
          {detailPane}
          {feed}
        </Box>
      )}
      <Footer mode={view.mode.kind} filter={view.filter} status={view.status} focus={view.focus} readonly={readonly} />
      {view.mode.kind === 'confirm' ? (
        // Low on the screen, so that the row it is about stays in sight.
        <Box position="absolute" marginTop={Math.max(0, size.rows - layout.footer - 8)} marginLeft={Math.max(0, Math.floor((size.columns - 72) / 2))}>
          <ConfirmDialog mode={view.mode} width={Math.min(72, size.columns)} />
        </Box>
      ) : null}
    </Box>
  );
}
