/**
 * `%track`'s markers on the cells: each cell's state (restart, out of order,
 * unsafe, stale, edited, rerun) as a small badge above its prompt and a
 * coloured left border, with the hazards' messages and fixes on hover.
 *
 * The state comes from `GET /nb2pipe/hazards` (its `track`), which the server
 * reads from the history log the kernel writes beside the notebook: so the
 * markers survive a reload of the page. They are fetched when the notebook
 * opens, after each execution (debounced), after a save (`edited` compares with
 * the saved file) and when the kernel restarts. No `track` (no `%track`
 * session, or an older server) or a failed request: no markers.
 */
import { Contents, KernelMessage } from '@jupyterlab/services';
import { Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { INotebookTracker } from '@jupyterlab/notebook';

import { CellState, ICellMarker, ITrackState, requestHazards } from './api';

type Cell = Notebook['widgets'][number];

/** Wait this long after an execution before asking: executions come in bursts. */
const REFRESH_DELAY = 300;
/** After a kernel restart, the old kernel process takes a moment to go. */
const RESTART_REFRESH_DELAY = 1500;

export const STATES: readonly CellState[] = [
  'restart',
  'out-of-order',
  'unsafe',
  'stale',
  'edited',
  'rerun'
];

/** The badge's word for each state. */
const BADGE_TEXT: Record<CellState, string> = {
  restart: 'restart',
  'out-of-order': 'out of order',
  unsafe: 'unsafe',
  stale: 'stale',
  edited: 'edited',
  rerun: 'rerun'
};

/** The tooltip's first line for each state. */
const STATE_TITLE: Record<CellState, string> = {
  restart: 'Needs a kernel restart',
  'out-of-order': 'Ran out of order',
  unsafe: 'Its output is not to be trusted',
  stale: 'Stale: an input is out of date',
  edited: 'Edited since it ran',
  rerun: 'Needed by the re-run'
};

const MARKED_CLASS = 'nb2pipe-cell-marked';
const BADGE_CLASS = 'nb2pipe-marker';

/** One line of a marker's tooltip: what is wrong, and what to do about it. */
export interface ITooltipItem {
  message: string;
  fix?: string;
}

export interface IMarkerDescription {
  title: string;
  items: ITooltipItem[];
  note: string | null;
}

/** What a marker's tooltip says. */
export function describeMarker(
  marker: ICellMarker,
  track: ITrackState
): IMarkerDescription {
  const items: ITooltipItem[] = [];
  if (marker.state === 'restart' && track.restart) {
    items.push({
      message: track.restart,
      fix: 'restart the kernel and run all cells: no re-run fixes this'
    });
  }
  for (const hazard of marker.hazards) {
    items.push({ message: hazard.message, fix: hazard.fix });
  }
  if (items.length === 0 && marker.state === 'rerun') {
    items.push({
      message:
        'nothing is wrong with it, but the re-run needs it: it re-creates what later cells use'
    });
  }
  let note: string | null = null;
  const remove = track.remove ?? [];
  if (track.restart) {
    note = 'Re-running cells does not fix this notebook: restart the kernel and run all cells';
  } else if (marker.rerun) {
    const position = track.rerun.indexOf(marker.cell_id) + 1;
    note = `"Re-run suggested cells" runs it (${position} of ${track.rerun.length})`;
    if (remove.length) {
      note = `Remove ${remove.join(', ')} first (no re-run or restart undoes it); then ${note}`;
    }
  }
  return {
    title: `${STATE_TITLE[marker.state]}: ${marker.label}`,
    items,
    note
  };
}

/** The markers of one notebook panel, kept in step with its `%track` session. */
export class TrackMarkers {
  constructor(
    readonly panel: NotebookPanel,
    private readonly _contents: Contents.IManager,
    private readonly _onChange: (markers: TrackMarkers) => void
  ) {
    const { sessionContext, context } = panel;
    sessionContext.iopubMessage.connect(this._onIOPub, this);
    sessionContext.statusChanged.connect(this._onStatus, this);
    sessionContext.kernelChanged.connect(this._onKernelChanged, this);
    context.saveState.connect(this._onSaveState, this);
    context.pathChanged.connect(this._onPathChanged, this);
    panel.disposed.connect(this.dispose, this);
    void context.ready.then(() => {
      if (this._disposed) {
        return;
      }
      panel.content.model?.cells.changed.connect(this._onCellsChanged, this);
      void this.refresh();
    });
  }

  /** The last state fetched: null when no `%track` session runs (or the request failed). */
  get track(): ITrackState | null {
    return this._track;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Ask again soon (calls within `delay` of each other make one request). */
  scheduleRefresh(delay: number = REFRESH_DELAY): void {
    if (this._disposed) {
      return;
    }
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
    }
    this._timer = window.setTimeout(() => {
      this._timer = null;
      if (this._paused === 0) {
        void this.refresh();
      }
    }, delay);
  }

  /** Fetch the state now and show it; resolves to it (a later request's, if one overtook). */
  refresh(): Promise<ITrackState | null> {
    if (this._disposed) {
      return Promise.resolve(null);
    }
    const seq = ++this._seq;
    const request = this._fetch().then(track => {
      if (seq !== this._seq) {
        return this._latest; // a newer request decides
      }
      this._setTrack(track);
      return track;
    });
    this._latest = request;
    return request;
  }

  /** Stop refreshing after executions (the re-run refreshes once at its end). */
  pause(): void {
    this._paused++;
  }

  resume(): void {
    this._paused = Math.max(0, this._paused - 1);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
    const { sessionContext, context } = this.panel;
    sessionContext.iopubMessage.disconnect(this._onIOPub, this);
    sessionContext.statusChanged.disconnect(this._onStatus, this);
    sessionContext.kernelChanged.disconnect(this._onKernelChanged, this);
    context.saveState.disconnect(this._onSaveState, this);
    context.pathChanged.disconnect(this._onPathChanged, this);
    this.panel.content.model?.cells.changed.disconnect(this._onCellsChanged, this);
    tooltip.hide();
  }

  private async _fetch(): Promise<ITrackState | null> {
    const path = this._contents.localPath(this.panel.context.path);
    if (!path.endsWith('.ipynb')) {
      return null;
    }
    try {
      const reply = await requestHazards(path);
      const track = reply?.track;
      return isTrackState(track) ? track : null;
    } catch (error) {
      // No server extension, a notebook the server cannot read, a network
      // hiccup: no markers, and one quiet line for whoever debugs it.
      if (!this._failureLogged) {
        this._failureLogged = true;
        console.debug(`nb2pipe: no %track markers for ${path}:`, error);
      }
      return null;
    }
  }

  private _setTrack(track: ITrackState | null): void {
    const before = JSON.stringify(this._track);
    this._track = track;
    this._render();
    if (JSON.stringify(track) !== before) {
      this._onChange(this);
    }
  }

  /** Show the current state on every cell (cells not in it lose their marker). */
  private _render(): void {
    if (this._disposed) {
      return;
    }
    const track = this._track;
    const byId = new Map<string, ICellMarker>();
    for (const marker of track?.cells ?? []) {
      byId.set(marker.cell_id, marker);
    }
    for (const cell of this.panel.content.widgets) {
      const marker = byId.get(cell.model.id);
      renderMarker(cell, marker && track ? { marker, track } : null);
    }
  }

  private _onIOPub(_: unknown, msg: KernelMessage.IMessage): void {
    if (msg.header.msg_type !== 'status') {
      return;
    }
    const state = (msg.content as { execution_state?: string }).execution_state;
    const parent = (msg.parent_header as { msg_type?: string } | undefined)
      ?.msg_type;
    // an execution ended (from this page or any other client of the kernel)
    if (state === 'idle' && parent === 'execute_request') {
      this.scheduleRefresh();
    }
  }

  private _onStatus(_: unknown, status: string): void {
    if (status === 'restarting' || status === 'dead' || status === 'autorestarting') {
      this.scheduleRefresh(RESTART_REFRESH_DELAY);
    }
  }

  private _onKernelChanged(): void {
    this.scheduleRefresh(RESTART_REFRESH_DELAY);
  }

  private _onSaveState(_: unknown, state: string): void {
    if (state === 'completed') {
      this.scheduleRefresh();
    }
  }

  private _onPathChanged(): void {
    this.scheduleRefresh();
  }

  private _onCellsChanged(): void {
    // The notebook widget makes its cell widgets in its own handler, which runs first.
    if (this._renderQueued) {
      return;
    }
    this._renderQueued = true;
    window.setTimeout(() => {
      this._renderQueued = false;
      this._render();
    }, 0);
  }

  private _track: ITrackState | null = null;
  private _latest: Promise<ITrackState | null> = Promise.resolve(null);
  private _seq = 0;
  private _timer: number | null = null;
  private _paused = 0;
  private _disposed = false;
  private _failureLogged = false;
  private _renderQueued = false;
}

/** One `TrackMarkers` per open notebook. */
export class TrackMarkerManager {
  constructor(
    tracker: INotebookTracker,
    private readonly _contents: Contents.IManager,
    private readonly _onChange: (markers: TrackMarkers) => void
  ) {
    tracker.widgetAdded.connect((_, panel) => this._add(panel));
    tracker.forEach(panel => this._add(panel));
    NotebookActions.executed.connect((_, { notebook }) => {
      for (const markers of this._byPanel.values()) {
        if (markers.panel.content === notebook) {
          markers.scheduleRefresh();
        }
      }
    });
  }

  get(panel: NotebookPanel | null): TrackMarkers | null {
    return (panel && this._byPanel.get(panel)) || null;
  }

  private _add(panel: NotebookPanel): void {
    if (this._byPanel.has(panel)) {
      return;
    }
    const markers = new TrackMarkers(panel, this._contents, this._onChange);
    this._byPanel.set(panel, markers);
    panel.disposed.connect(() => {
      this._byPanel.delete(panel);
    });
  }

  private _byPanel = new Map<NotebookPanel, TrackMarkers>();
}

function isTrackState(value: unknown): value is ITrackState {
  const track = value as ITrackState | null | undefined;
  return (
    !!track &&
    typeof track === 'object' &&
    Array.isArray(track.cells) &&
    Array.isArray(track.rerun)
  );
}

interface IShown {
  marker: ICellMarker;
  track: ITrackState;
}

/** Put `shown`'s marker on `cell` (null: take any marker off). */
function renderMarker(cell: Cell, shown: IShown | null): void {
  const node = cell.node;
  const key = shown
    ? JSON.stringify([shown.marker, shown.track.rerun, shown.track.restart])
    : '';
  const existing = badgeOf(node);
  if ((existing?.dataset.nb2pipeKey ?? '') === key) {
    return; // unchanged: leave the DOM (and an open tooltip) alone
  }
  if (existing) {
    existing.remove();
    tooltip.hideFor(existing);
  }
  node.classList.remove(MARKED_CLASS, ...STATES.map(stateClass));
  if (!shown) {
    return;
  }
  const { marker } = shown;
  const description = describeMarker(marker, shown.track);
  node.classList.add(MARKED_CLASS, stateClass(marker.state));

  const badge = document.createElement('span');
  badge.className = `${BADGE_CLASS} ${BADGE_CLASS}-${marker.state}`;
  badge.dataset.nb2pipeKey = key;
  badge.dataset.nb2pipeState = marker.state;
  badge.dataset.cellId = marker.cell_id;
  badge.tabIndex = 0;
  badge.setAttribute('role', 'note');
  badge.setAttribute('aria-label', flatten(description));
  badge.textContent = BADGE_TEXT[marker.state];
  if (marker.rerun && marker.state !== 'rerun' && !shown.track.restart) {
    const rerun = document.createElement('span');
    rerun.className = `${BADGE_CLASS}-rerun-flag`;
    rerun.textContent = ' \u21bb'; // the re-run covers it
    badge.appendChild(rerun);
  }
  const show = () => tooltip.show(badge, description);
  const hide = () => tooltip.hideFor(badge);
  badge.addEventListener('mouseenter', show);
  badge.addEventListener('focus', show);
  badge.addEventListener('mouseleave', hide);
  badge.addEventListener('blur', hide);
  node.insertBefore(badge, node.firstChild);
}

function badgeOf(node: HTMLElement): HTMLElement | null {
  for (const child of Array.from(node.children)) {
    if (child.classList.contains(BADGE_CLASS)) {
      return child as HTMLElement;
    }
  }
  return null;
}

function stateClass(state: CellState): string {
  return `nb2pipe-cell-${state}`;
}

function flatten(description: IMarkerDescription): string {
  const lines = [description.title];
  for (const item of description.items) {
    lines.push(item.fix ? `${item.message} (fix: ${item.fix})` : item.message);
  }
  if (description.note) {
    lines.push(description.note);
  }
  return lines.join('. ');
}

/**
 * The hover text, in document.body: a cell may clip what overflows it
 * (`content-visibility` windowing), and a native `title` never shows in a
 * screenshot.
 */
class Tooltip {
  show(anchor: HTMLElement, description: IMarkerDescription): void {
    const node = this._ensureNode();
    node.replaceChildren();
    const title = document.createElement('div');
    title.className = 'nb2pipe-tooltip-title';
    title.textContent = description.title;
    node.appendChild(title);
    for (const item of description.items) {
      const row = document.createElement('div');
      row.className = 'nb2pipe-tooltip-item';
      const message = document.createElement('div');
      message.className = 'nb2pipe-tooltip-message';
      message.textContent = item.message;
      row.appendChild(message);
      if (item.fix) {
        const fix = document.createElement('div');
        fix.className = 'nb2pipe-tooltip-fix';
        fix.textContent = `fix: ${item.fix}`;
        row.appendChild(fix);
      }
      node.appendChild(row);
    }
    if (description.note) {
      const note = document.createElement('div');
      note.className = 'nb2pipe-tooltip-note';
      note.textContent = description.note;
      node.appendChild(note);
    }
    this._anchor = anchor;
    node.style.visibility = 'hidden';
    node.style.display = 'block';
    const box = anchor.getBoundingClientRect();
    const own = node.getBoundingClientRect();
    const left = Math.max(4, Math.min(box.left, window.innerWidth - own.width - 8));
    let top = box.bottom + 4;
    if (top + own.height > window.innerHeight - 4) {
      top = Math.max(4, box.top - own.height - 4);
    }
    node.style.left = `${left}px`;
    node.style.top = `${top}px`;
    node.style.visibility = 'visible';
  }

  /** Hide the tooltip if it is `anchor`'s. */
  hideFor(anchor: HTMLElement): void {
    if (this._anchor === anchor) {
      this.hide();
    }
  }

  hide(): void {
    this._anchor = null;
    if (this._node) {
      this._node.style.display = 'none';
    }
  }

  private _ensureNode(): HTMLElement {
    if (!this._node) {
      this._node = document.createElement('div');
      this._node.className = 'nb2pipe-tooltip';
      this._node.setAttribute('role', 'tooltip');
      this._node.style.display = 'none';
      document.body.appendChild(this._node);
      // the badge moves away under a still tooltip: hide it on any scroll
      document.addEventListener('scroll', () => this.hide(), true);
    }
    return this._node;
  }

  private _node: HTMLElement | null = null;
  private _anchor: HTMLElement | null = null;
}

const tooltip = new Tooltip();
