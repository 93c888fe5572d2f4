/**
 * Who holds memory on the GPU a cell ran out of: the rows of the OOM card, from the
 * server's process list.
 */
import type { IProcessesReply } from '../api';
import { heldOutside } from '../ui/outside';
import type { IProcessTableContent } from '../ui/processTable';

export interface IHolders extends IProcessTableContent {
  /** Server GPU indices shown. */
  gpus: number[];
  /** How the GPU was chosen, for the card. */
  basis: 'kernel' | 'message' | 'all';
  /** Why the process list of a GPU shown could not be read, or null. */
  unavailable: string | null;
}

/**
 * The GPU(s) to show: those where the failing kernel holds memory (the index in the
 * message is the kernel's CUDA numbering, which CUDA_VISIBLE_DEVICES may shift); else the
 * index in the message; else every GPU. Largest holders first.
 */
export function holdersFor(
  reply: IProcessesReply,
  failingKernelId: string | null,
  messageGPU: number | null
): IHolders {
  const ofKernel = reply.gpus.filter(g =>
    g.processes.some(p => p.kernel && p.kernel.id === failingKernelId)
  );
  const byIndex = reply.gpus.filter(g => g.index === messageGPU);
  const [gpus, basis] = ofKernel.length
    ? [ofKernel, 'kernel' as const]
    : byIndex.length
      ? [byIndex, 'message' as const]
      : [reply.gpus, 'all' as const];
  const processes = gpus
    .flatMap(g => g.processes)
    .sort((a, b) => (b.used_memory ?? 0) - (a.used_memory ?? 0));
  const outside = gpus.reduce((n, g) => n + heldOutside(g), 0);
  const outsideHow = gpus.find(g => heldOutside(g))?.outside;
  return {
    gpus: gpus.map(g => g.index),
    basis,
    processes,
    others: {
      count: gpus.reduce((n, g) => n + g.others.count, 0),
      usedMemory: gpus.reduce((n, g) => n + g.others.used_memory, 0)
    },
    unavailable: gpus.find(g => g.unavailable)?.unavailable ?? null,
    outside: outside && outsideHow ? { usedMemory: outside, how: outsideHow } : null
  };
}
