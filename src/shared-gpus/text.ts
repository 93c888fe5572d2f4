import { PathExt } from '@jupyterlab/coreutils';
import type { TranslationBundle } from '@jupyterlab/translation';

import { formatMemory } from '../core/memory';
import type { IGPUShare, IIdleKernel, IInstructorNotice, IShutDownKernel } from '../api';
import type { MemoryUnits } from '../tokens';

/** "45 s", "31 min", "2 h 5 min". */
export function formatDuration(seconds: number, trans: TranslationBundle): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return trans.__('%1 s', s);
  }
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    return trans.__('%1 min', minutes);
  }
  return trans.__('%1 h %2 min', Math.floor(minutes / 60), minutes % 60);
}

// Toasts are cut at 140 characters (JupyterLab's limit): their texts put what matters
// first, name the notebook by its file name, and stay short.

function fileName(path: string | null, trans: TranslationBundle): string {
  return path ? PathExt.basename(path) : trans.__('a kernel without a notebook');
}

/** The nudge for an idle kernel that holds GPU memory (`now` in epoch seconds). */
export function idleMessage(
  idle: IIdleKernel,
  now: number,
  units: MemoryUnits,
  trans: TranslationBundle
): string {
  const notebook = fileName(idle.notebook_path, trans);
  const idleFor = formatDuration(now - idle.idle_since, trans);
  const held = formatMemory(idle.used_memory, units);
  return idle.shutdown_at === null
    ? trans.__('%1: idle %2, holding %3 of GPU memory others could use.', notebook, idleFor, held)
    : trans.__(
        '%1: idle %2, holding %3 of GPU memory others could use. Shut down in %4 unless you keep it.',
        notebook,
        idleFor,
        held,
        formatDuration(idle.shutdown_at - now, trans)
      );
}

export function shutDownMessage(
  entry: IShutDownKernel,
  units: MemoryUnits,
  trans: TranslationBundle
): string {
  if (entry.by !== null) {
    return trans.__(
      '%1 shut down the kernel of %2 (holding %3) for the class.',
      entry.by,
      fileName(entry.notebook_path, trans),
      formatMemory(entry.used_memory, units)
    );
  }
  return trans.__(
    'gpuscope shut down the kernel of %1 (idle %2 min, holding %3), as your administrator set.',
    fileName(entry.notebook_path, trans),
    entry.idle_minutes,
    formatMemory(entry.used_memory, units)
  );
}

/** The toast of an instructor's nudge: who asks, for which kernel, and their note. */
export function noticeMessage(
  notice: IInstructorNotice,
  units: MemoryUnits,
  trans: TranslationBundle
): string {
  const asked = trans.__(
    '%1 asks you to free the GPU memory of %2 (%3): shut its kernel down or release what it holds.',
    notice.by,
    fileName(notice.notebook_path, trans),
    formatMemory(notice.used_memory, units)
  );
  return notice.note ? `${asked} ${trans.__('Their note: %1', notice.note)}` : asked;
}

/** The toast when this user's memory rises past the warning level or the limit. */
export function limitToast(gpu: IGPUShare, units: MemoryUnits, trans: TranslationBundle): string {
  const mine = formatMemory(gpu.mine, units);
  const limit = formatMemory(gpu.limit ?? 0, units);
  return gpu.state === 'over'
    ? trans.__(
        'Over your GPU %1 limit: you hold %2 of %3. Free memory or shut down kernels you no longer need.',
        gpu.index,
        mine,
        limit
      )
    : trans.__('You hold %1 of your %2 limit on GPU %3.', mine, limit, gpu.index);
}

/** "You hold 2.0 GiB of your 4.0 GiB limit on GPU 0." */
export function limitMessage(gpu: IGPUShare, units: MemoryUnits, trans: TranslationBundle): string {
  if (gpu.limit === null) {
    return trans.__('You hold %1 on GPU %2.', formatMemory(gpu.mine, units), gpu.index);
  }
  const mine = formatMemory(gpu.mine, units);
  const limit = formatMemory(gpu.limit, units);
  return gpu.state === 'over'
    ? trans.__(
        'You hold %1 of your %2 limit on GPU %3. That is over the limit your administrator set: free memory (del, torch.cuda.empty_cache()) or shut down kernels you no longer need.',
        mine,
        limit,
        gpu.index
      )
    : trans.__('You hold %1 of your %2 limit on GPU %3.', mine, limit, gpu.index);
}

/**
 * "2.5 GiB is held outside this server's view …"; when that cannot be told (a recording),
 * why the parts listed need not add up to the memory in use; null when nothing is held
 * outside.
 */
export function outsideLine(
  gpu: IGPUShare,
  units: MemoryUnits,
  trans: TranslationBundle
): string | null {
  if (gpu.outside) {
    return trans.__(
      "%1 is held outside this server's view on GPU %2 (other containers or machines).",
      formatMemory(gpu.outside, units),
      gpu.index
    );
  }
  if (gpu.outside === null && gpu.outside_reason) {
    return trans.__(
      'The rest of the memory in use on GPU %1 cannot be accounted for here: %2.',
      gpu.index,
      gpu.outside_reason
    );
  }
  return null;
}

/**
 * Whether a GPU's line says anything: memory held, other users' processes, or a limit. A
 * line of zeros per GPU would hide the one that matters.
 */
export function worthALine(gpu: IGPUShare): boolean {
  return gpu.mine > 0 || gpu.others_count > 0 || gpu.limit !== null || Boolean(gpu.outside);
}

/** limitMessage, then the other users' total: "Others hold 23.1 GiB (3 processes)." */
export function usageLine(gpu: IGPUShare, units: MemoryUnits, trans: TranslationBundle): string {
  const mine = limitMessage(gpu, units, trans);
  if (gpu.others_count === 0) {
    return mine;
  }
  // One message with the first sentence as a placeholder: translators order the two.
  return trans._n(
    '%2 Others hold %3 (%1 process).',
    '%2 Others hold %3 (%1 processes).',
    gpu.others_count,
    mine,
    formatMemory(gpu.others, units)
  );
}
