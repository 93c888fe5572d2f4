/**
 * The part of a notebook's outputs where GPU failures show: errors and stderr streams.
 * Shared by the notebook explainer and the CLI (no browser code here).
 */

import type * as nbformat from '@jupyterlab/nbformat';

import { multiline } from '../notebook';

/** An output as saved or sent: possibly malformed, so every field is checked. */
type IOutputJSON = { output_type?: string } & Partial<Pick<nbformat.IError, 'ename' | 'evalue'>> &
  Partial<Pick<nbformat.IStream, 'name' | 'text'>>;

/** The text of a cell's outputs that can show a failure: error messages and stderr. */
export function failureText(outputs: readonly Partial<nbformat.IOutput>[]): string {
  const parts: string[] = [];
  for (const output of outputs as readonly IOutputJSON[]) {
    if (output.output_type === 'error') {
      // The message only: IPython's traceback quotes library source around each frame,
      // and that source contains other error texts (torch/cuda/__init__.py raises several).
      parts.push(`${multiline(output.ename)}: ${multiline(output.evalue)}`);
    } else if (output.output_type === 'stream' && output.name === 'stderr') {
      parts.push(multiline(output.text));
    }
  }
  return parts.join('\n');
}
