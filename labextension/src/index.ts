/**
 * nb2pipe's JupyterLab plugin: the "Export to script" command, `%track`'s
 * markers on the cells, the "Re-run suggested cells" command and the "Recover
 * the path to these outputs" command.
 *
 * The notebook toolbar buttons are declared in `schema/plugin.json`, not coded.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';

import { addCommands } from './commands';
import { TrackMarkerManager } from './markers';
import { addRecoverCommand } from './recover';
import { addRerunCommand, RerunCommandIDs } from './rerun';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nb2pipe:plugin',
  description:
    'Export notebooks to reproducible scripts with nb2pipe; show %track hazards on the cells; recover the path to saved outputs.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null
  ) => {
    addCommands(app, tracker, palette);
    const refreshCommand = () =>
      app.commands.notifyCommandChanged(RerunCommandIDs.rerunSuggested);
    const manager = new TrackMarkerManager(
      tracker,
      app.serviceManager.contents,
      markers => {
        if (markers.panel === tracker.currentWidget) {
          refreshCommand();
        }
      }
    );
    tracker.currentChanged.connect(refreshCommand);
    addRerunCommand(app, tracker, manager, palette);
    addRecoverCommand(app, tracker, palette);
  }
};

export default plugin;
