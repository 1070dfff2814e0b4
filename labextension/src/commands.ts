/**
 * The "Export to script" command: save, export on the server, open the script,
 * show the summary; errors become a dialog with the server's message.
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

import { APIError, IExportResponse, IHazard, requestExport } from './api';

export namespace CommandIDs {
  export const exportToScript = 'nb2pipe:export-to-script';
}

const PALETTE_CATEGORY = 'nb2pipe';

/** HTTP status the server uses for "the script exists and nb2pipe did not write it". */
const CONFLICT = 409;

export function addCommands(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  palette: ICommandPalette | null
): void {
  app.commands.addCommand(CommandIDs.exportToScript, {
    label: 'Export to script',
    caption: 'Save this notebook and export it to a Python script (nb2pipe)',
    isEnabled: () => tracker.currentWidget !== null,
    execute: async () => {
      const panel = tracker.currentWidget;
      if (panel) {
        await exportNotebook(app, panel);
      }
    }
  });
  palette?.addItem({
    command: CommandIDs.exportToScript,
    category: PALETTE_CATEGORY
  });
}

async function exportNotebook(
  app: JupyterFrontEnd,
  panel: NotebookPanel
): Promise<void> {
  try {
    await panel.context.save();
    // The server wants a path relative to its root: drop any drive prefix ("RTC:", ...).
    const path = app.serviceManager.contents.localPath(panel.context.path);
    const result = await exportOrAskToOverwrite(path);
    if (result === null) {
      return;
    }
    await openScript(app, result.path);
    notifyExported(result);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await showErrorMessage('Export to script failed', message);
  }
}

/** Export; on a conflict ask before replacing a script nb2pipe did not write. */
async function exportOrAskToOverwrite(
  path: string
): Promise<IExportResponse | null> {
  try {
    return await requestExport({ path, overwrite: false });
  } catch (error) {
    if (!(error instanceof APIError) || error.status !== CONFLICT) {
      throw error;
    }
    const answer = await showDialog({
      title: 'Replace existing script?',
      body: error.message,
      buttons: [
        Dialog.cancelButton(),
        Dialog.warnButton({ label: 'Replace' })
      ]
    });
    if (!answer.button.accept) {
      return null;
    }
    return await requestExport({ path, overwrite: true });
  }
}

/** Open the script beside the notebook, reloading it if it was already open. */
async function openScript(app: JupyterFrontEnd, path: string): Promise<void> {
  const widget: IDocumentWidget | undefined = await app.commands.execute(
    'docmanager:open',
    { path, options: { mode: 'split-right' } }
  );
  const context = widget?.context;
  if (context) {
    await context.ready;
    if (!context.model.dirty) {
      await context.revert();
    }
  }
}

function notifyExported(result: IExportResponse): void {
  const { summary, hazards } = result;
  const counts = [
    plural(summary.cells, 'cell'),
    plural(summary.parameters.length, 'parameter'),
    plural(hazards.length, 'hazard')
  ].join(', ');
  const message = `Exported to ${result.path}: ${counts}`;
  const actions = [
    {
      label: 'Show summary',
      callback: () => {
        void showSummary(result);
      }
    }
  ];
  if (hazards.length > 0) {
    Notification.warning(message, { autoClose: false, actions });
  } else {
    Notification.success(message, { autoClose: 10000, actions });
  }
}

function showSummary(result: IExportResponse): Promise<unknown> {
  const lines = [...result.summary_lines];
  if (result.hazards.length > 0) {
    lines.push('', 'Hazards:', ...result.hazards.map(describeHazard));
  }
  const body = document.createElement('pre');
  body.className = 'nb2pipe-Summary';
  body.textContent = lines.join('\n');
  return showDialog({
    title: `Exported to ${result.path}`,
    body: new Widget({ node: body }),
    buttons: [Dialog.okButton()]
  });
}

function describeHazard(hazard: IHazard): string {
  const cell = hazard.cell_index === null ? '?' : String(hazard.cell_index + 1);
  return `  [${cell}] ${hazard.severity}: ${hazard.message}\n      fix: ${hazard.fix}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
