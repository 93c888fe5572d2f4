/**
 * The numbers in PyTorch's "CUDA out of memory" message, in the wordings of torch 1.x
 * ("(GPU 0; 14.76 GiB total capacity; ... free; ... reserved in total by PyTorch)") and of
 * 2.x ("GPU 0 has a total capacity of 79.18 GiB of which 30.66 GiB is free. ...").
 */

export interface IOomFacts {
  /** The CUDA device index as the kernel numbers it (after CUDA_VISIBLE_DEVICES). */
  gpu: number | null;
  requested: number | null;
  total: number | null;
  free: number | null;
  /** Reserved by PyTorch's caching allocator but not allocated to any tensor. */
  reservedUnallocated: number | null;
  /** Memory held by this process, PyTorch's and other (CUDA context, other libraries). */
  processUsed: number | null;
}

const UNITS: Record<string, number> = {
  bytes: 1,
  B: 1,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40
};

const SIZE = String.raw`(\d+(?:\.\d+)?) (bytes|B|KiB|MiB|GiB|TiB)`;

function bytes(match: RegExpExecArray | null, at = 1): number | null {
  return match ? Math.round(Number(match[at]) * UNITS[match[at + 1]]) : null;
}

/** The OOM message's numbers; fields the message does not state are null. */
export function parseOom(text: string): IOomFacts {
  const gpu = /\(GPU (\d+);|GPU (\d+) has a total capac/.exec(text);
  const modern = new RegExp(
    `GPU \\d+ has a total capac\\w* of ${SIZE} of which ${SIZE} is free`
  ).exec(text);
  const legacyTotal = new RegExp(`${SIZE} total capacity`).exec(text);
  const legacyFree = new RegExp(`${SIZE} free;`).exec(text);
  const legacyReserved = new RegExp(`${SIZE} reserved in total by PyTorch`).exec(text);
  const legacyAllocated = new RegExp(`${SIZE} already allocated`).exec(text);
  const unallocated = new RegExp(`${SIZE} is reserved by PyTorch but unallocated`).exec(text);
  const processUsed = new RegExp(`this process has ${SIZE} memory in use`).exec(text);
  const reserved = bytes(legacyReserved);
  const allocated = bytes(legacyAllocated);
  return {
    gpu: gpu ? Number(gpu[1] ?? gpu[2]) : null,
    requested: bytes(new RegExp(`Tried to allocate ${SIZE}`).exec(text)),
    total: modern ? bytes(modern, 1) : bytes(legacyTotal),
    free: modern ? bytes(modern, 3) : bytes(legacyFree),
    reservedUnallocated: unallocated
      ? bytes(unallocated)
      : reserved !== null && allocated !== null
        ? Math.max(0, reserved - allocated)
        : null,
    processUsed: bytes(processUsed)
  };
}
