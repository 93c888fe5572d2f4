/** Memory amounts in the user's units: shared by the monitor and the shared-GPU views. */
import type { MemoryUnits } from '../tokens';

const DIVISOR: Record<MemoryUnits, number> = { GiB: 2 ** 30, GB: 1e9 };

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
