/**
 * What the error explainer is measured against (bench/explain_coverage.js and the tests):
 * every status code as each framework prints it, and the messages collected from the code
 * that prints them (error-inventory.json). Not imported by the explainer itself, so none
 * of it is shipped to the browser.
 */
import inventory from './error-inventory.json';
import { statusCodes, statusFormats } from './errors';

export interface IInventoryMessage {
  family: string;
  /** Who prints it: a framework or library ("torch", "cupy", "cuBLAS via torch, cupy"). */
  library: string;
  text: string;
  source: string;
}

/**
 * The inventory the explainer is measured against: every status code of every CUDA library
 * as each framework prints it (the status formats' examples, filled with the code), and the
 * messages collected from the code that prints them. Each with the family it must get.
 */
export function inventoryMessages(): IInventoryMessage[] {
  const generated: IInventoryMessage[] = [];
  const codes = statusCodes();
  for (const format of statusFormats()) {
    const usesString = /\(\?<string>/.test(format.pattern);
    const library = codes.filter(c => c.library === format.library);
    for (const code of library.filter(c => c.family)) {
      const twin = library.some(
        other => other.string === code.string && other.family !== code.family
      );
      if (usesString && (!code.string || twin)) {
        // This framework prints the library's string, which this code lacks or shares with
        // a code of another family: the message cannot tell them apart.
        continue;
      }
      const text = format.example
        .replace(/\{name\}/g, code.name)
        .replace(/\{string\}/g, code.string ?? code.name)
        .replace(/\{value\}/g, String(code.value))
        .replace(/\{short\}/g, code.name.replace(/^cudaError/, ''));
      generated.push({
        family: code.family!,
        library: `${code.libraryTitle} via ${format.by}`,
        text,
        source: format.source[0]
      });
    }
  }
  return [...generated, ...(inventory.messages as IInventoryMessage[])];
}

/** Ordinary errors from the same code bases, which must get no explanation. */
export function ordinaryMessages(): { library: string; text: string; source: string }[] {
  return inventory.quiet;
}
