/**
 * Reading a notebook file (nbformat 4), for the CLI and the tests: the one place a
 * notebook's JSON is turned into cells. Malformed parts become empty, never a crash;
 * anything that is not a notebook is a clear error.
 */
import type * as nbformat from '@jupyterlab/nbformat';

export interface INotebookCell {
  /** 1-based, among all the notebook's cells (as a user counts them). */
  number: number;
  code: boolean;
  source: string;
  /** A code cell's outputs as saved (each possibly malformed); [] for other cells. */
  outputs: Partial<nbformat.IOutput>[];
}

export function readNotebook(text: string): INotebookCell[] {
  let notebook: Partial<nbformat.INotebookContent> | null;
  try {
    notebook = JSON.parse(text);
  } catch (error) {
    throw new Error(`not a notebook: the file is not JSON (${(error as Error).message})`);
  }
  const cells: unknown = notebook?.cells;
  if (!Array.isArray(cells)) {
    throw new Error('not a notebook: it has no "cells" list (nbformat 4 expected)');
  }
  return cells.map((raw, i) => {
    const cell = (raw ?? {}) as Partial<nbformat.ICodeCell>;
    const code = cell.cell_type === 'code';
    const outputs: unknown = code ? cell.outputs : [];
    return {
      number: i + 1,
      code,
      source: multiline(cell.source),
      outputs: Array.isArray(outputs)
        ? outputs.filter(o => typeof o === 'object' && o !== null)
        : []
    };
  });
}

/** nbformat's multiline string: a string or a list of lines. */
export function multiline(value: unknown): string {
  return Array.isArray(value)
    ? value.filter(part => typeof part === 'string').join('')
    : typeof value === 'string'
      ? value
      : '';
}
