/**
 * REST calls to nb2pipe's server extension and the JSON they exchange.
 *
 * The interfaces mirror `nb2pipe/server/handlers.py`; every call goes through
 * `requestAPI`, which uses `ServerConnection.makeRequest` so the token and the
 * XSRF header are always sent.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Body of `POST /nb2pipe/export`. */
export interface IExportRequest {
  /** Notebook path relative to the server root (the contents API path). */
  path: string;
  /** Replace an existing script that nb2pipe did not generate (CLI `--force`). */
  overwrite: boolean;
}

/** One hazard as serialized by nb2pipe's `Hazard.to_json()`. */
export interface IHazard {
  kind: string;
  severity: 'error' | 'warning' | 'info';
  /** 0-based position in the notebook; null when the cell is not in the saved file. */
  cell_index: number | null;
  cell_id: string | null;
  names: string[];
  /** One line naming the cells and names involved. */
  message: string;
  /** One line: what to do about it. */
  fix: string;
  line: number | null;
  /** The short line `%track` prints under the cell (about 120 characters), when it has one. */
  summary?: string;
}

/** Export summary as serialized by nb2pipe's `ExportSummary.to_json()`. */
export interface IExportSummary {
  notebook: string;
  script: string;
  /** Number of code cells exported. */
  cells: number;
  parameters: IParameter[];
  /** Pinned requirements written into the script's inline metadata. */
  requirements: string[];
  notes: string[];
}

/** One notebook parameter that became a command-line option of the script. */
export interface IParameter {
  name: string;
  type: string;
  default: unknown;
  optional: boolean;
  help: string | null;
}

/** Reply of `POST /nb2pipe/export`. */
export interface IExportResponse {
  /** Script path relative to the server root. */
  path: string;
  summary: IExportSummary;
  /** The summary as human readable lines (what the CLI prints). */
  summary_lines: string[];
  hazards: IHazard[];
}

/**
 * What a cell's marker says, most urgent first (`CellState` in
 * `nb2pipe/tracking/report.py`).
 */
export type CellState =
  | 'restart'
  | 'out-of-order'
  | 'unsafe'
  | 'stale'
  | 'edited'
  | 'rerun';

/** One cell's marker (`CellMarker.to_json()`). */
export interface ICellMarker {
  /** nbformat 4.5 cell id: JupyterLab's cell model id. */
  cell_id: string;
  state: CellState;
  /** How nb2pipe's messages name the cell: 'cell 3 `total = sum(data)`'. */
  label: string;
  hazards: IHazard[];
  /** In `rerun`: "Re-run suggested cells" runs it. */
  rerun: boolean;
}

/** The running `%track` session's state (`TrackReport.to_lab_json()`). */
export interface ITrackState {
  executions: number;
  /** Cell ids to run again, in notebook order. */
  rerun: string[];
  rerun_labels: string[];
  /** Why only a restart restores a fresh run's state (restart the kernel), or null. */
  restart: string | null;
  /**
   * Paths to remove before re-running: what earlier runs left on disk that
   * neither a re-run nor a restart undoes (missing from older servers).
   */
  remove?: string[];
  /** A marker for every cell with a state worth showing; empty: all clean. */
  cells: ICellMarker[];
}

/** Reply of `GET /nb2pipe/hazards`. */
export interface IHazardsResponse {
  hazards: IHazard[];
  /**
   * The notebook's running `%track` session; null (or missing, from an older
   * server) when none runs.
   */
  track?: ITrackState | null;
}

/** Body of `POST /nb2pipe/recover`. */
export interface IRecoverRequest {
  /** Notebook path relative to the server root (the contents API path). */
  path: string;
  /** Replace an existing recovered notebook (CLI `--force`). */
  overwrite: boolean;
}

/** One saved output no path gave back (`CellProblem.to_json()`). */
export interface IRecoverProblem {
  cell_id: string | null;
  /** 0-based position in the notebook. */
  cell_index: number;
  reason: string;
  /** One line naming the cell, its count and first line, and why (what the CLI prints). */
  line: string;
}

/** Reply of `POST /nb2pipe/recover` when a path was found and proven. */
export interface IRecovered {
  recovered: true;
  /** The recovered notebook, relative to the server root. */
  output: string;
  /** `history`: a `%track` session replayed; `search`: orders of the current cells. */
  origin: 'history' | 'search';
  /** One line per execution that ran older code or ran again. */
  differences: string[];
  notes: string[];
  /** Saved outputs the proof run gave back. */
  compared: number;
  /** Seconds the recovery took. */
  duration: number;
}

/** Reply of `POST /nb2pipe/recover` when no path within the budget gave the outputs back. */
export interface INotRecovered {
  recovered: false;
  problems: IRecoverProblem[];
  /** Seconds the search and its proofs had. */
  budget: number;
  notes: string[];
  duration: number;
}

export type IRecoverResponse = IRecovered | INotRecovered;

/** A non-2xx reply, carrying the server's `message` (and `reason`, where one status has two causes). */
export class APIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string | null = null
  ) {
    super(message);
  }
}

/**
 * Call an nb2pipe endpoint and decode its JSON reply.
 *
 * @throws {APIError} when the server answers with an error status.
 */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'nb2pipe', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: any = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const message =
      data && typeof data.message === 'string'
        ? data.message
        : `${response.status} ${response.statusText}`;
    const reason =
      data && typeof data.reason === 'string' ? (data.reason as string) : null;
    throw new APIError(response.status, message, reason);
  }
  return data as T;
}

/** Export a notebook to a script on the server. */
export function requestExport(body: IExportRequest): Promise<IExportResponse> {
  return requestAPI<IExportResponse>('export', {
    method: 'POST',
    body: JSON.stringify(body)
  });
}

/** Static (and `%track` history) hazards of a notebook. */
export function requestHazards(path: string): Promise<IHazardsResponse> {
  return requestAPI<IHazardsResponse>(
    `hazards?path=${encodeURIComponent(path)}`
  );
}

/**
 * Recover the path to a notebook's saved outputs on the server (`nb2pipe
 * recover`): seconds to minutes, as it runs kernels.
 */
export function requestRecover(
  body: IRecoverRequest
): Promise<IRecoverResponse> {
  return requestAPI<IRecoverResponse>('recover', {
    method: 'POST',
    body: JSON.stringify(body)
  });
}
