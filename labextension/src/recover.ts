/**
 * The "Recover the path to these outputs" command: save the notebook, run
 * `nb2pipe recover` on the server (seconds to minutes: it runs kernels) while
 * the user keeps working, then open the recovered notebook beside the original
 * and say how its path differs; when no path gives the outputs back, a dialog
 * names each one and why.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  Notification,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { IDocumentWidget } from '@jupyterlab/docregistry';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import {
  APIError,
  INotRecovered,
  IRecovered,
  IRecoverResponse,
  requestRecover
} from './api';

export namespace RecoverCommandIDs {
  export const recover = 'nb2pipe:recover-outputs';
}

const PALETTE_CATEGORY = 'nb2pipe';

/** HTTP status of "the recovered notebook exists" and "a recovery of it runs". */
const CONFLICT = 409;

export function addRecoverCommand(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  palette: ICommandPalette | null
): void {
  /** Server paths of the notebooks whose recovery this page is waiting for. */
  const running = new Set<string>();
  const pathOf = (panel: NotebookPanel): string =>
    // The server wants a path relative to its root: drop any drive prefix ("RTC:", ...).
    app.serviceManager.contents.localPath(panel.context.path);
  const isRunning = (): boolean => {
    const panel = tracker.currentWidget;
    return panel !== null && running.has(pathOf(panel));
  };
  const changed = () =>
    app.commands.notifyCommandChanged(RecoverCommandIDs.recover);

  app.commands.addCommand(RecoverCommandIDs.recover, {
    label: args => {
      if (!args.toolbar) {
        return 'Recover the path to these outputs';
      }
      return isRunning() ? 'Recovering…' : 'Recover outputs';
    },
    caption: () =>
      isRunning()
        ? 'Recovering the path to this notebook’s saved outputs (nb2pipe): kernels are running'
        : 'Save this notebook and recover the path that produced its saved outputs, as a ' +
          'notebook that gives them back run top to bottom (nb2pipe recover)',
    className: () => (isRunning() ? 'nb2pipe-recovering' : ''),
    isEnabled: () => tracker.currentWidget !== null && !isRunning(),
    execute: async () => {
      const panel = tracker.currentWidget;
      if (!panel) {
        return;
      }
      const path = pathOf(panel);
      if (running.has(path)) {
        return;
      }
      running.add(path);
      changed();
      try {
        await recoverNotebook(app, panel, path);
      } finally {
        running.delete(path);
        changed();
      }
    }
  });
  tracker.currentChanged.connect(changed);
  palette?.addItem({
    command: RecoverCommandIDs.recover,
    category: PALETTE_CATEGORY
  });
}

async function recoverNotebook(
  app: JupyterFrontEnd,
  panel: NotebookPanel,
  path: string
): Promise<void> {
  const name = panel.context.path.split('/').pop() ?? path;
  try {
    await panel.context.save();
    const result = await recoverOrAskToOverwrite(path, name);
    if (result === null) {
      return;
    }
    if (result.recovered) {
      await openBeside(app, result.output, panel);
      notifyRecovered(name, result);
    } else {
      notifyNotRecovered(name, result);
      void showProblems(name, result); // (not awaited: the recovery is over)
    }
  } catch (error) {
    if (error instanceof APIError && error.reason === 'running') {
      Notification.warning(error.message, { autoClose: 10000 });
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    void showErrorMessage('Recover the path to these outputs failed', message);
  }
}

/** Recover; when the recovered notebook exists, ask before replacing it. */
async function recoverOrAskToOverwrite(
  path: string,
  name: string
): Promise<IRecoverResponse | null> {
  try {
    return await recoverShowingProgress(path, name, false);
  } catch (error) {
    if (
      !(error instanceof APIError) ||
      error.status !== CONFLICT ||
      error.reason !== 'exists'
    ) {
      throw error;
    }
    const answer = await showDialog({
      title: 'Replace the recovered notebook?',
      body: error.message,
      buttons: [
        Dialog.cancelButton(),
        Dialog.warnButton({ label: 'Replace' })
      ]
    });
    if (!answer.button.accept) {
      return null;
    }
    return await recoverShowingProgress(path, name, true);
  }
}

/** The request, with a notification that it runs while the user keeps working. */
async function recoverShowingProgress(
  path: string,
  name: string,
  overwrite: boolean
): Promise<IRecoverResponse> {
  const id = Notification.emit(
    `Recovering the path to the saved outputs of ${name}… (kernels run; keep working)`,
    'in-progress',
    { autoClose: false }
  );
  try {
    return await requestRecover({ path, overwrite });
  } finally {
    Notification.dismiss(id);
  }
}

/** Open the recovered notebook to the right of the original (reloaded if already open). */
async function openBeside(
  app: JupyterFrontEnd,
  path: string,
  original: NotebookPanel
): Promise<void> {
  const widget: IDocumentWidget | undefined = await app.commands.execute(
    'docmanager:open',
    { path, options: { mode: 'split-right', ref: original.id } }
  );
  const context = widget?.context;
  if (context) {
    await context.ready;
    if (!context.model.dirty) {
      await context.revert(); // a recovery replaced it on disk
    }
  }
}

function notifyRecovered(name: string, result: IRecovered): void {
  // (a notification shows 140 characters: the output's name is on its tab, beside)
  const how =
    result.origin === 'history'
      ? 'from its %track history'
      : 'by a search of its cells';
  const what =
    result.differences.length === 0
      ? 'every cell ran its current code, once'
      : `${plural(result.differences.length, 'difference')} from the notebook as it is`;
  Notification.success(
    `Recovered ${name} ${how}: ${what}.`,
    {
      autoClose: false,
      actions: [
        {
          label: 'Show differences',
          callback: () => {
            void showDifferences(name, result);
          }
        }
      ]
    }
  );
}

function notifyNotRecovered(name: string, result: INotRecovered): void {
  Notification.error(
    `No path gives back the saved outputs of ${name}; nothing was written.`,
    {
      autoClose: false,
      actions: [
        {
          label: 'Show why',
          callback: () => {
            void showProblems(name, result);
          }
        }
      ]
    }
  );
}

function showDifferences(name: string, result: IRecovered): Promise<unknown> {
  const lines =
    result.differences.length > 0
      ? result.differences
      : ['Every cell ran its current code, once (the order may differ).'];
  return showDialog({
    title: `Recovered: the path to the outputs of ${name}`,
    body: listBody(
      `${result.output} gives back ${plural(result.compared, 'saved output')}, ` +
        'run top to bottom in a fresh kernel (checked before it was written). ' +
        'Where its path differs from the notebook as it is:',
      lines,
      result.notes
    ),
    buttons: [Dialog.okButton()]
  });
}

function showProblems(name: string, result: INotRecovered): Promise<unknown> {
  return showDialog({
    title: 'No path gives back the saved outputs',
    body: listBody(
      `Within ${Math.round(result.budget)} s, nb2pipe recover found no path that gives ` +
        `back these saved outputs of ${name}; nothing was written:`,
      result.problems.map(problem => problem.line),
      result.notes
    ),
    buttons: [Dialog.okButton()]
  });
}

function listBody(intro: string, lines: string[], notes: string[]): Widget {
  const body = document.createElement('div');
  body.className = 'nb2pipe-Recover';
  const text = document.createElement('p');
  text.textContent = intro;
  const list = document.createElement('ul');
  for (const line of lines) {
    const item = document.createElement('li');
    item.textContent = line;
    list.appendChild(item);
  }
  body.append(text, list);
  if (notes.length > 0) {
    const more = document.createElement('ul');
    more.className = 'nb2pipe-Recover-notes';
    for (const note of notes) {
      const item = document.createElement('li');
      item.textContent = `note: ${note}`;
      more.appendChild(item);
    }
    body.appendChild(more);
  }
  return new Widget({ node: body });
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
