/**
 * The GPU-to-GPU links as `nvidia-smi topo -m` prints them (backends/topology.py), for
 * machines with more than one GPU: a matrix of NV#/PIX/PXB/PHB/NODE/SYS with peer-to-peer
 * support, and each GPU's CPU and NUMA affinity.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { ITopology } from '../api';
import { element, tableFrame } from '../ui/dom';

/** What each word of the matrix means, for its cells' tooltips (nvidia-smi's legend). */
function meaning(link: string | null, trans: TranslationBundle): string {
  if (link === null) {
    return trans.__('not known: the driver did not say');
  }
  if (link.startsWith('NV')) {
    return trans.__('%1 NVLinks between them', link.slice(2));
  }
  return (
    {
      X: trans.__('itself'),
      PIX: trans.__('one PCIe switch between them'),
      PXB: trans.__('several PCIe switches, no host bridge'),
      PHB: trans.__('through a PCIe host bridge (the CPU)'),
      NODE: trans.__('through the interconnect between host bridges of one NUMA node'),
      SYS: trans.__('through the interconnect between NUMA nodes (QPI/UPI, SMP)')
    }[link] ?? link
  );
}

/** Fill `table` with the matrix; empty and hidden with one GPU or none known. */
export function renderTopology(
  table: HTMLTableElement,
  topology: ITopology | null | undefined,
  trans: TranslationBundle
): void {
  table.replaceChildren();
  const links = topology?.links ?? [];
  table.hidden = links.length < 2;
  if (table.hidden || !topology) {
    return;
  }
  const body = tableFrame(
    table,
    ['', ...links.map((_, j) => trans.__('GPU %1', j)), trans.__('CPU affinity'), trans.__('NUMA')],
    topology.source === 'nvml'
      ? trans.__('GPU links (as nvidia-smi topo -m)')
      : trans.__('GPU links (as nvidia-smi topo -m; %1)', topology.source)
  );
  links.forEach((row, i) => {
    const tr = element('tr', '', body);
    const name = element('th', '', tr);
    name.textContent = trans.__('GPU %1', i);
    name.setAttribute('scope', 'row');
    row.forEach((link, j) => {
      const cell = element('td', '', tr);
      cell.textContent = link ?? '?';
      const p2p = topology.p2p_read[i]?.[j];
      cell.title =
        i === j
          ? meaning(link, trans)
          : trans.__(
              '%1; peer-to-peer reads: %2',
              meaning(link, trans),
              p2p === null || p2p === undefined
                ? trans.__('unknown')
                : p2p
                  ? trans.__('yes')
                  : trans.__('no')
            );
    });
    const affinity = topology.affinity[i];
    element('td', '', tr).textContent = affinity?.cpus ?? trans.__('n/a');
    element('td', '', tr).textContent =
      affinity?.numa_node === null || affinity?.numa_node === undefined
        ? trans.__('n/a')
        : String(affinity.numa_node);
  });
}
