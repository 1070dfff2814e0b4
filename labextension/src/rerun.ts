/**
 * The "Re-run suggested cells" command: run `%track`'s `rerun` list in order,
 * one cell at a time, then refresh the markers. When `%track` says only a
 * kernel restart helps (`restart`), it says why instead of running anything.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import {
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { ITrackState } from './api';
import { TrackMarkerManager, TrackMarkers } from './markers';

export namespace RerunCommandIDs {
  export const rerunSuggested = 'nb2pipe:rerun-suggested-cells';
}

const PALETTE_CATEGORY = 'nb2pipe';

export function addRerunCommand(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  manager: TrackMarkerManager,
  palette: ICommandPalette | null
): void {
  const current = (): TrackMarkers | null =>
    manager.get(tracker.currentWidget);
  app.commands.addCommand(RerunCommandIDs.rerunSuggested, {
    label: 'Re-run suggested cells',
    caption: () => {
      const track = current()?.track ?? null;
      if (track === null) {
        return 'Re-run the cells %track suggests (turn on %track in this notebook first)';
      }
      if (track.restart) {
        return `Only a kernel restart helps: ${track.restart}`;
      }
      if ((track.remove ?? []).length) {
        return `Remove ${(track.remove ?? []).join(', ')} first: no re-run or restart undoes it`;
      }
      if (track.rerun.length === 0) {
        return 'Nothing to re-run: %track finds no hazards';
      }
      return `Run ${plural(track.rerun.length, 'cell')} again, in notebook order: ${track.rerun_labels.join(', ')}`;
    },
    // only where a %track session runs; enabled when it has something to say
    isVisible: () => (current()?.track ?? null) !== null,
    isEnabled: () => {
      const track = current()?.track ?? null;
      return track !== null && (track.rerun.length > 0 || !!track.restart);
    },
    execute: async () => {
      const markers = current();
      if (markers) {
        await rerunSuggested(markers);
      }
    }
  });
  palette?.addItem({
    command: RerunCommandIDs.rerunSuggested,
    category: PALETTE_CATEGORY
  });
}

let running = false;

async function rerunSuggested(markers: TrackMarkers): Promise<void> {
  if (running) {
    return;
  }
  running = true;
  markers.pause();
  try {
    const track = await markers.refresh(); // the list as the kernel's log has it now
    if (track === null) {
      Notification.info(
        'Nothing to re-run: %track is not on in this notebook (%load_ext nb2pipe, then %track).',
        { autoClose: 5000 }
      );
      return;
    }
    if (track.restart) {
      await explainRestart(track);
      return;
    }
    if ((track.remove ?? []).length) {
      await explainRemove(track);
      return;
    }
    if (track.rerun.length === 0) {
      Notification.info('Nothing to re-run: %track finds no hazards.', {
        autoClose: 5000
      });
      return;
    }
    const ran = await runInOrder(markers.panel, track);
    const after = await markers.refresh();
    notifyDone(ran, after);
  } finally {
    markers.resume();
    running = false;
  }
}

/** Run the `rerun` cells one by one, each after the one before finished. */
async function runInOrder(
  panel: NotebookPanel,
  track: ITrackState
): Promise<number | null> {
  const notebook = panel.content;
  let ran = 0;
  for (const [position, cellId] of track.rerun.entries()) {
    const label = track.rerun_labels[position] ?? cellId;
    const index = notebook.widgets.findIndex(cell => cell.model.id === cellId);
    if (index < 0) {
      Notification.error(
        `Re-run stopped: ${label} is not in the notebook any more. Save the notebook and try again.`,
        { autoClose: false }
      );
      return null;
    }
    notebook.deselectAll();
    notebook.activeCellIndex = index;
    const ok = await NotebookActions.run(notebook, panel.sessionContext);
    ran++;
    if (!ok) {
      Notification.error(
        `Re-run stopped at ${label}: it raised an error (${ran} of ${track.rerun.length} ran).`,
        { autoClose: false }
      );
      return null;
    }
  }
  return ran;
}

function notifyDone(ran: number | null, after: ITrackState | null): void {
  if (ran === null) {
    return; // stopped; already said why
  }
  const what = `Re-ran ${plural(ran, 'cell')}`;
  if (after === null || after.cells.length === 0) {
    Notification.success(`${what}: %track finds no hazards left.`, {
      autoClose: 5000
    });
  } else if (after.restart) {
    Notification.warning(
      `${what}. Only a kernel restart fixes the rest: ${after.restart}`,
      { autoClose: false }
    );
  } else {
    Notification.warning(
      `${what}; ${plural(after.cells.length, 'cell')} still marked (hover a marker for why).`,
      { autoClose: 10000 }
    );
  }
}

function explainRestart(track: ITrackState): Promise<unknown> {
  const body = document.createElement('div');
  body.className = 'nb2pipe-RestartReason';
  const intro = document.createElement('p');
  intro.textContent =
    'Re-running cells cannot give this notebook the state of a fresh run:';
  const reasons = document.createElement('ul');
  for (const reason of restartReasons(track.restart!)) {
    const item = document.createElement('li');
    item.textContent = reason;
    reasons.appendChild(item);
  }
  const fix = document.createElement('p');
  fix.textContent =
    'Restart the kernel and run all cells (Kernel › Restart Kernel and Run All Cells…).';
  body.append(intro, reasons, fix);
  return showDialog({
    title: 'A kernel restart is needed',
    body: new Widget({ node: body }),
    buttons: [Dialog.okButton()]
  });
}

/**
 * Paths earlier runs left on disk: re-running the cells would leave them as they
 * are, and so would a restart. The user removes them (nb2pipe deletes no file),
 * then runs the command again: the list no longer asks for it.
 */
function explainRemove(track: ITrackState): Promise<unknown> {
  const body = document.createElement('div');
  body.className = 'nb2pipe-RemoveFirst';
  const intro = document.createElement('p');
  intro.textContent =
    'Earlier runs left these on disk, and neither a re-run nor a restart undoes them:';
  const paths = document.createElement('ul');
  for (const path of track.remove ?? []) {
    const item = document.createElement('li');
    item.textContent = path;
    paths.appendChild(item);
  }
  const fix = document.createElement('p');
  fix.textContent =
    `Remove them (or make the cells write to a fresh path), then run "Re-run suggested cells" again: it runs ${track.rerun_labels.join(', ')}.`;
  body.append(intro, paths, fix);
  return showDialog({
    title: 'Remove these first',
    body: new Widget({ node: body }),
    buttons: [Dialog.okButton()]
  });
}

/** The reasons `restart` joins, without one that another one repeats and extends. */
export function restartReasons(restart: string): string[] {
  const reasons = [...new Set(restart.split('; '))];
  return reasons.filter(
    reason => !reasons.some(other => other !== reason && other.startsWith(reason))
  );
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
