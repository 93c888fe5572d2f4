/**
 * A process the server matched to one of its kernels by the kernel's own evidence, not by
 * its PID (attribution.py: older drivers in containers give host PIDs). The panel and the
 * out-of-memory card mark it the same way.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IGPUProcess } from '../api';
import { element } from './dom';

/** How the match was made, when the process is only probably the kernel's; else null. */
export function probableHow(proc: IGPUProcess): string | null {
  return proc.attribution?.probable ? proc.attribution.how : null;
}

/** Why an unknown process could not be matched to a kernel, when that was tried. */
export function whyNotMatched(proc: IGPUProcess): string | null {
  return proc.attribution && !proc.attribution.probable ? proc.attribution.why_not : null;
}

/** Appends "(probably)", with how it was told as its tooltip, when `how` is set. */
export function markProbable(
  parent: HTMLElement,
  how: string | null,
  trans: TranslationBundle
): void {
  if (how === null) {
    return;
  }
  parent.append(' ');
  const mark = element('span', 'jp-gpuscope-ProcessTable-probable', parent);
  mark.textContent = trans.__('(probably)');
  mark.title = how;
}
