/**
 * nb2pipe's JupyterLab plugin: registers the "Export to script" command.
 *
 * The notebook toolbar button is declared in `schema/plugin.json`, not coded.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';

import { addCommands } from './commands';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nb2pipe:plugin',
  description: 'Export notebooks to reproducible scripts with nb2pipe.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null
  ) => {
    addCommands(app, tracker, palette);
  }
};

export default plugin;
