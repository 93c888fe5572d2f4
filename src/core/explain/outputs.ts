/**
 * The part of a notebook's outputs where GPU failures show: errors and stderr streams.
 * Shared by the notebook explainer and the CLI (no browser code here).
 */

/** The fields of nbformat outputs read here (the outputs' JSON, possibly malformed). */
export interface IOutputJSON {
  output_type?: unknown;
  name?: unknown;
  text?: unknown;
  ename?: unknown;
  evalue?: unknown;
  traceback?: unknown;
}

function joined(value: unknown): string {
  return Array.isArray(value) ? value.map(String).join('') : typeof value === 'string' ? value : '';
}

/** The text of a cell's outputs that can show a failure: error messages and stderr. */
export function failureText(outputs: readonly IOutputJSON[]): string {
  const parts: string[] = [];
  for (const output of outputs) {
    if (output.output_type === 'error') {
      // The message only: IPython's traceback quotes library source around each frame,
      // and that source contains other error texts (torch/cuda/__init__.py raises several).
      parts.push(`${joined(output.ename)}: ${joined(output.evalue)}`);
    } else if (output.output_type === 'stream' && output.name === 'stderr') {
      parts.push(joined(output.text));
    }
  }
  return parts.join('\n');
}
