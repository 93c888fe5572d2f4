/**
 * Memory amounts in the user's units (the memoryUnits setting), for every view: the monitor,
 * the shared-GPU views, the out-of-memory card and the figures under cells.
 */

/** Binary (GiB, as PyTorch and nvidia-smi write) or decimal (GB, as GPU datasheets do). */
export type MemoryUnits = 'GiB' | 'GB';

const DIVISOR: Record<MemoryUnits, number> = { GiB: 2 ** 30, GB: 1e9 };

/** The smaller units of each family, largest first, for amounts of any size. */
const FAMILY: Record<MemoryUnits, [string, number][]> = {
  GiB: [
    ['TiB', 2 ** 40],
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10]
  ],
  GB: [
    ['TB', 1e12],
    ['GB', 1e9],
    ['MB', 1e6],
    ['kB', 1e3]
  ]
};

/** "41.2" (one decimal below 100, none above). */
export function formatAmount(bytes: number, units: MemoryUnits): string {
  const value = bytes / DIVISOR[units];
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

/** "2.0 GiB". */
export function formatMemory(bytes: number, units: MemoryUnits): string {
  return `${formatAmount(bytes, units)} ${units}`;
}

/** "41.2/80 GiB": the total shown without decimals when it is 10 or more. */
export function formatUsedOfTotal(
  used: number | null,
  total: number | null,
  units: MemoryUnits
): string {
  const usedText = used === null ? 'n/a' : formatAmount(used, units);
  if (total === null) {
    return `${usedText} ${units}`;
  }
  const totalValue = total / DIVISOR[units];
  const totalText = totalValue >= 10 ? totalValue.toFixed(0) : totalValue.toFixed(1);
  return `${usedText}/${totalText} ${units}`;
}

/**
 * An amount of any size in the largest unit of the user's family it reaches, as PyTorch
 * writes sizes: 1.5 * 2**30 -> "1.50 GiB" (or "1.61 GB"), 12 MiB -> "12.00 MiB".
 */
export function formatSize(value: number, units: MemoryUnits = 'GiB'): string {
  for (const [unit, divisor] of FAMILY[units]) {
    if (value >= divisor) {
      return `${(value / divisor).toFixed(2)} ${unit}`;
    }
  }
  return `${value} bytes`;
}
