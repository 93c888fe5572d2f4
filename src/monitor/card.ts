import type { TranslationBundle } from '@jupyterlab/translation';

import type { IDevice, IGPUSample, IMigInstance, IProcessesReply } from '../api';
import { IChartTheme, TimeChart } from './chart';
import {
  formatPercent,
  formatThroughput,
  formatWatts,
  Level,
  memoryLevel,
  throttleLevel,
  throttleWords
} from './format';
import { element, setAttr, setText, tableFrame } from '../ui/dom';
import { heldOutside } from '../ui/outside';
import { appendProcessTable, memoryCellText } from '../ui/processTable';
import { instanceName } from '../ui/mig';
import { formatMemory, formatUsedOfTotal } from '../core/memory';
import type { IGPUHistory, IThresholds, MemoryUnits } from '../tokens';

/** What a card needs from its panel to act on a process row. */
export interface ICardActions {
  openNotebook(path: string): void;
  shutDownKernel(kernelId: string, notebookPath: string | null): void;
  /** Show what in the kernel holds its GPU memory (the memory X-ray). */
  inspectKernel(kernelId: string, notebookPath: string | null): void;
}

/**
 * A value's tooltip: its whole text, which a narrow sidebar may cut short with an ellipsis;
 * "n/a" gives its reason instead, and a value with an "n/a" part ("n/a / n/a") both.
 */
function valueTitle(value: string, reason: string | null): string {
  if (!value.includes('n/a') || !reason) {
    return value;
  }
  return value === 'n/a' ? reason : `${value} — ${reason.replace(/^n\/a:\s*/, '')}`;
}

/**
 * A GPM figure with the seconds it averages over ("85% over 10 s"): GPM compares two
 * readings, taken every 10 s while no one watches, so a figure can outlast the work.
 */
function overWindow(value: string, window: number | null, trans: TranslationBundle): string {
  return window !== null && value !== 'n/a'
    ? trans.__('%1 over %2 s', value, window < 10 ? window.toFixed(1) : window.toFixed(0))
    : value;
}

/**
 * One GPU: its fields, three history charts and its process table. The DOM is built
 * once; updates only change text and chart data.
 */
export class GPUCard {
  constructor(
    readonly index: number,
    private _trans: TranslationBundle,
    private _actions: ICardActions
  ) {
    const trans = _trans;
    this.node = element('section', 'jp-gpuscope-Card');
    this._title = element('h3', 'jp-gpuscope-Card-title', this.node);
    // Named by its title ("GPU 0 · NVIDIA H200 · compute capability 9.0"), so a screen
    // reader says what the card shows before its readings.
    this._title.id = `jp-gpuscope-Card-title-${index}`;
    this._title.textContent = trans.__('GPU %1', index);
    this.node.setAttribute('aria-labelledby', this._title.id);
    this._state = element('div', 'jp-gpuscope-Card-state', this.node);
    const bar = element('div', 'jp-gpuscope-Card-memory', this.node);
    this._barFill = element('div', 'jp-gpuscope-Card-memoryFill', bar);
    this._barText = element('div', 'jp-gpuscope-Card-memoryText', bar);
    bar.setAttribute('role', 'meter');
    this._bar = bar;
    this._fields = element('dl', 'jp-gpuscope-Card-fields', this.node);
    this._mig = element('table', 'jp-gpuscope-MigTable', this.node) as HTMLTableElement;
    this._mig.hidden = true;
    const charts = element('div', 'jp-gpuscope-Card-charts', this.node);
    // One label for the chart and the start of its text alternative.
    const chart = (
      label: string,
      describe: (value: number) => string,
      options: Omit<TimeChart.IOptions, 'label' | 'summary'>
    ) =>
      new TimeChart({
        ...options,
        label,
        summary: shown => chartSummary(label, describe, shown, trans)
      });
    this._charts = {
      memory: chart(trans.__('Memory used'), v => formatMemory(v, this._units), {
        format: v => `${+v.toFixed(1)}`,
        scale: 2 ** 30
      }),
      utilization: chart(trans.__('Utilisation'), formatPercent, {
        yRange: [0, 100],
        format: v => `${v}%`
      }),
      power: chart(trans.__('Power'), v => formatWatts(v * 1000), { format: v => `${v} W` }),
      pcie: chart(trans.__('PCIe rx + tx'), formatThroughput, {
        format: v => `${+v.toFixed(1)}`,
        scale: 1e6
      }),
      nvlink: chart(trans.__('NVLink rx + tx'), formatThroughput, {
        format: v => `${+v.toFixed(1)}`,
        scale: 1e6
      })
    };
    for (const [key, chart] of Object.entries(this._charts)) {
      const figure = element('figure', 'jp-gpuscope-Card-chart', charts);
      const caption = element('figcaption', 'jp-gpuscope-Card-chartTitle', figure);
      caption.textContent = {
        memory: trans.__('Memory used'),
        utilization: trans.__('Utilisation'),
        power: trans.__('Power'),
        pcie: trans.__('PCIe rx + tx (GB/s)'),
        nvlink: trans.__('NVLink rx + tx (GB/s)')
      }[key]!;
      figure.appendChild(chart.node);
      if (key === 'memory') {
        this._memoryCaption = caption;
      }
      if (key === 'nvlink') {
        // Beside PCIe, on GPUs with NVLink only.
        this._nvlinkFigure = figure;
        figure.hidden = true;
      }
    }
    this._processes = element('div', 'jp-gpuscope-Card-processes', this.node);
  }

  readonly node: HTMLElement;

  /**
   * Whether the card is scrolled into view. Cards out of view (with 8 GPUs most are) are
   * not touched at all, text or charts: each change would cost the browser style, layout
   * and paint work for nothing seen. They catch up when they come into view.
   */
  setInView(inView: boolean): void {
    this._inView = inView;
    if (inView) {
      const pending = [...this._pending.values()];
      this._pending.clear();
      pending.forEach(render => render());
    }
  }

  /** Render now when in view; otherwise keep only the latest render of this kind. */
  private _whenInView(kind: 'readings' | 'processes', render: () => void): void {
    if (this._inView) {
      render();
    } else {
      this._pending.set(kind, render);
    }
  }

  renderCharts(width: number, theme: IChartTheme): void {
    for (const chart of Object.values(this._charts)) {
      chart.render(width, theme);
    }
  }

  setChartWidth(width: number): void {
    for (const chart of Object.values(this._charts)) {
      chart.setWidth(width);
    }
  }

  update(
    device: IDevice | undefined,
    gpu: IGPUSample | undefined,
    history: IGPUHistory,
    windowStart: number,
    units: MemoryUnits,
    thresholds: IThresholds
  ): void {
    this._units = units;
    this._whenInView('readings', () =>
      this._render(device, gpu, history, windowStart, units, thresholds)
    );
  }

  private _render(
    device: IDevice | undefined,
    gpu: IGPUSample | undefined,
    history: IGPUHistory,
    windowStart: number,
    units: MemoryUnits,
    thresholds: IThresholds
  ): void {
    const trans = this._trans;
    setText(
      this._title,
      trans.__(
        'GPU %1 · %2 · compute capability %3',
        this.index,
        device?.name ?? trans.__('unknown'),
        device?.compute_capability ?? 'n/a'
      )
    );
    const level = gpu ? memoryLevel(gpu, thresholds) : 'normal';
    for (const l of ['normal', 'warning', 'critical']) {
      this.node.classList.toggle(`jp-mod-${l}`, level === l);
    }
    // Throttling is said in words, coloured on its own line, never in the memory's colour.
    const throttled = gpu ? throttleLevel(gpu, thresholds) : 'normal';
    const unwell = !!gpu && gpu.status !== 'ok';
    if (unwell) {
      setText(this._state, gpu.reason ?? gpu.status);
    }
    if (this._state.hidden === unwell) {
      this._state.hidden = !unwell;
    }
    const used = gpu?.memory_used ?? null;
    const total = gpu?.memory_total ?? device?.memory_total ?? null;
    const percent = used !== null && total ? (100 * used) / total : 0;
    this._barFill.style.width = `${Math.min(percent, 100).toFixed(1)}%`;
    const memory = formatUsedOfTotal(used, total, units);
    // A GPU without memory of its own (Jetson, GB10) uses the system's: say so.
    const shared = device?.memory_shared === true;
    setText(this._barText, shared ? trans.__('%1 system memory, shared', memory) : memory);
    setAttr(this._bar, 'aria-valuenow', percent.toFixed(0));
    setAttr(
      this._bar,
      'aria-label',
      shared
        ? trans.__('System memory used (shared by the GPU and the CPU)')
        : trans.__('Memory used')
    );
    setAttr(this._bar, 'title', naReason(gpu, 'memory_used', trans) ?? '');

    const throttle = gpu ? throttleWords(gpu.throttle_reasons, trans) : [];
    const limit = device?.power_limit_mw ?? null;
    this._setFields([
      [
        trans.__('Utilisation'),
        formatPercent(gpu?.util_gpu ?? null),
        naReason(gpu, 'util_gpu', trans)
      ],
      [
        trans.__('Memory busy'),
        formatPercent(gpu?.util_mem ?? null),
        naReason(gpu, 'util_mem', trans)
      ],
      [
        trans.__('Temperature'),
        typeof gpu?.temp_c === 'number' ? `${gpu.temp_c} °C` : 'n/a',
        naReason(gpu, 'temp_c', trans)
      ],
      [
        trans.__('Power'),
        limit !== null
          ? `${formatWatts(gpu?.power_mw ?? null)} / ${formatWatts(limit)}`
          : formatWatts(gpu?.power_mw ?? null),
        naReason(gpu, 'power_mw', trans)
      ],
      [
        trans.__('SM clock'),
        typeof gpu?.sm_clock === 'number'
          ? `${gpu.sm_clock}${device?.max_sm_clock ? ` / ${device.max_sm_clock}` : ''} MHz`
          : 'n/a',
        naReason(gpu, 'sm_clock', trans)
      ],
      [
        trans.__('SM active (GPM)'),
        overWindow(formatPercent(gpu?.sm_util ?? null), gpu?.gpm_window_s ?? null, trans),
        naReason(gpu, 'sm_util', trans)
      ],
      [
        trans.__('Tensor / DRAM (GPM)'),
        `${formatPercent(gpu?.tensor_util ?? null)} / ${formatPercent(gpu?.dram_util ?? null)}`,
        naReason(gpu, 'tensor_util', trans)
      ],
      [
        trans.__('PCIe rx / tx'),
        `${formatThroughput(gpu?.pcie_rx_kbs ?? null)} / ${formatThroughput(gpu?.pcie_tx_kbs ?? null)}`,
        naReason(gpu, 'pcie_rx_kbs', trans)
      ],
      [
        trans.__('NVLink rx / tx'),
        `${formatThroughput(gpu?.nvlink_rx_kbs ?? null)} / ${formatThroughput(gpu?.nvlink_tx_kbs ?? null)}`,
        naReason(gpu, 'nvlink_rx_kbs', trans)
      ],
      [
        trans.__('Throttling'),
        !gpu?.throttle_reasons ? 'n/a' : throttle.length ? throttle.join(', ') : trans.__('none'),
        naReason(gpu, 'throttle', trans),
        throttled
      ],
      [trans.__('Fan'), formatPercent(gpu?.fan ?? null), naReason(gpu, 'fan', trans)]
    ]);

    this._renderMig(device?.mig_instances ?? [], gpu, units);
    const hasNvlink = (device?.nvlink_links ?? 0) > 0;
    if (this._nvlinkFigure.hidden === hasNvlink) {
      this._nvlinkFigure.hidden = !hasNvlink;
    }
    this._updateCharts(history, windowStart, units);
    setText(this._memoryCaption, trans.__('Memory used (%1)', units));
  }

  /** The GPU's MIG instances, one row each: memory, and activity from GPM where there is. */
  private _renderMig(
    instances: IMigInstance[],
    gpu: IGPUSample | undefined,
    units: MemoryUnits
  ): void {
    const trans = this._trans;
    this._instances = instances;
    const rows = JSON.stringify(instances.map(i => i.uuid));
    if (rows !== this._migRows) {
      this._migRows = rows;
      if (this._processReply) {
        // A process list drawn before the instances were known: name them now.
        this._renderProcesses(this._processReply);
      }
      this._mig.replaceChildren();
      this._mig.hidden = instances.length === 0;
      if (instances.length) {
        const body = tableFrame(
          this._mig,
          [trans.__('Instance'), trans.__('Memory'), trans.__('SM'), trans.__('Tensor')],
          trans.__('MIG instances')
        );
        for (let n = 0; n < instances.length; n++) {
          const row = element('tr', '', body);
          for (let i = 0; i < 4; i++) {
            element('td', '', row);
          }
        }
      }
    }
    const body = this._mig.tBodies[0];
    instances.forEach((instance, n) => {
      const reading = (gpu?.mig ?? []).find(m => m.uuid === instance.uuid);
      const cells = body.rows[n].cells;
      setText(cells[0], instance.profile ?? instance.name ?? trans.__('unknown'));
      setAttr(
        cells[0],
        'title',
        [
          instanceName(instance, trans),
          instance.uuid,
          instance.multiprocessor_count !== null
            ? trans.__('%1 SMs', instance.multiprocessor_count)
            : null
        ]
          .filter(Boolean)
          .join('\n')
      );
      setText(
        cells[1],
        formatUsedOfTotal(
          reading?.memory_used ?? null,
          reading?.memory_total ?? instance.memory_total,
          units
        )
      );
      setText(cells[2], formatPercent(reading?.sm_util ?? null));
      setAttr(cells[2], 'title', reading?.unavailable.sm_util ?? '');
      setText(cells[3], formatPercent(reading?.tensor_util ?? null));
      setAttr(cells[3], 'title', reading?.unavailable.tensor_util ?? '');
    });
  }

  private _updateCharts(history: IGPUHistory, windowStart: number, units: MemoryUnits): void {
    if (units !== this._chartUnits) {
      // The memory chart's ticks are in the chosen unit: rebuild it for another one.
      this._chartUnits = units;
      this._charts.memory.setScale(units === 'GiB' ? 2 ** 30 : 1e9);
    }
    const end = history.time[history.time.length - 1] ?? windowStart;
    // A window longer than the history so far starts at the first sample, not in blank.
    const start = Math.max(windowStart, history.time[0] ?? windowStart);
    const { memory, utilization, power, pcie, nvlink } = this._charts;
    memory.setData(history.time, history.memoryUsed, start, end);
    utilization.setData(history.time, history.utilization, start, end);
    power.setData(history.time, history.powerWatts, start, end);
    pcie.setData(history.time, history.pcieKBs, start, end);
    if (!this._nvlinkFigure.hidden) {
      nvlink.setData(history.time, history.nvlinkKBs, start, end);
    }
  }

  /**
   * Show the processes on this GPU. Like the readings, a card out of view keeps only the
   * latest reply and builds its table when it comes into view.
   */
  updateProcesses(reply: IProcessesReply | null): void {
    this._whenInView('processes', () => this._renderProcesses(reply));
  }

  private _renderProcesses(reply: IProcessesReply | null): void {
    this._processReply = reply;
    const gpu = reply?.gpus.find(g => g.index === this.index);
    // Pushed when it changes, while processes' memory moves all the time: the table is
    // rebuilt only when its rows change; otherwise only memory texts that changed are set.
    const rows = JSON.stringify([
      reply === null,
      reply?.pid_namespace.note,
      gpu?.processes.map(p => [
        p.pid,
        p.name,
        p.note,
        p.attribution,
        p.gpu_instance_id,
        p.cmdline,
        p.kernel?.id,
        p.kernel?.name,
        p.kernel?.notebook_path
      ]),
      gpu?.others.count,
      Boolean(gpu && heldOutside(gpu)),
      this._units,
      // The instance column names the MIG instances the readings list.
      this._instances.map(i => i.profile)
    ]);
    if (rows !== this._processRows) {
      this._processRows = rows;
      this._buildProcessTable(reply, gpu);
    }
    if (gpu) {
      const memory = [
        ...gpu.processes.map(p => p.used_memory),
        ...(gpu.others.count > 0 ? [gpu.others.used_memory] : []),
        ...(heldOutside(gpu) ? [heldOutside(gpu)] : [])
      ];
      this._memoryCells.forEach((cell, i) => setText(cell, memoryCellText(memory[i], this._units)));
    }
  }

  private _buildProcessTable(
    reply: IProcessesReply | null,
    gpu: IProcessesReply['gpus'][0] | undefined
  ): void {
    const trans = this._trans;
    const container = this._processes;
    container.replaceChildren();
    this._memoryCells = [];
    const heading = element('h4', 'jp-gpuscope-Card-processesTitle', container);
    heading.textContent = trans.__('Processes');
    if (reply === null) {
      element('p', 'jp-gpuscope-Card-empty', container).textContent = trans.__('Loading…');
      return;
    }
    if (reply.pid_namespace.note) {
      element('p', 'jp-gpuscope-Card-note', container).textContent = reply.pid_namespace.note;
    }
    if (gpu?.unavailable) {
      // An unreadable list is not an empty one.
      element('p', 'jp-gpuscope-Card-empty', container).textContent = trans.__(
        'The process list of this GPU could not be read: %1',
        gpu.unavailable
      );
      return;
    }
    if (!gpu || (gpu.processes.length === 0 && gpu.others.count === 0 && !heldOutside(gpu))) {
      element('p', 'jp-gpuscope-Card-empty', container).textContent = trans.__(
        'No process holds memory on this GPU.'
      );
      return;
    }
    this._memoryCells = appendProcessTable(
      container,
      {
        processes: gpu.processes,
        others: { count: gpu.others.count, usedMemory: gpu.others.used_memory },
        outside:
          gpu.outside && heldOutside(gpu)
            ? { usedMemory: heldOutside(gpu), how: gpu.outside }
            : null
      },
      {
        trans,
        units: this._units,
        openNotebook: path => this._actions.openNotebook(path),
        canShutDown: () => true,
        shutDownKernel: kernel => this._actions.shutDownKernel(kernel.id, kernel.notebook_path),
        inspectKernel: kernel => this._actions.inspectKernel(kernel.id, kernel.notebook_path),
        instanceOf: proc => {
          const instance = this._instances.find(i => i.gpu_instance_id === proc.gpu_instance_id);
          return instance ? trans.__('MIG %1', instance.profile ?? '?') : null;
        }
      }
    );
  }

  dispose(): void {
    for (const chart of Object.values(this._charts)) {
      chart.dispose();
    }
    this.node.remove();
  }

  /** Name, value, why it is n/a, and how much the value matters (colours the value). */
  private _setFields(rows: [string, string, string | null, Level?][]): void {
    if (this._fields.childElementCount !== rows.length * 2) {
      this._fields.replaceChildren();
      for (let i = 0; i < rows.length; i++) {
        element('dt', '', this._fields);
        element('dd', '', this._fields);
      }
    }
    rows.forEach(([name, value, reason, level], i) => {
      const dt = this._fields.children[2 * i] as HTMLElement;
      const dd = this._fields.children[2 * i + 1] as HTMLElement;
      setText(dt, name);
      setText(dd, value);
      setAttr(dd, 'title', valueTitle(value, reason));
      dd.classList.toggle('jp-mod-unavailable', value === 'n/a');
      dd.classList.toggle('jp-mod-warning', level === 'warning');
      dd.classList.toggle('jp-mod-critical', level === 'critical');
    });
  }

  private _title: HTMLElement;
  private _state: HTMLElement;
  private _bar: HTMLElement;
  private _barFill: HTMLElement;
  private _barText: HTMLElement;
  private _fields: HTMLElement;
  private _mig: HTMLTableElement;
  private _nvlinkFigure!: HTMLElement;
  private _migRows = '';
  private _instances: IMigInstance[] = [];
  private _processReply: IProcessesReply | null = null;
  private _processes: HTMLElement;
  private _charts: Record<'memory' | 'utilization' | 'power' | 'pcie' | 'nvlink', TimeChart>;
  private _units: MemoryUnits = 'GiB';
  private _memoryCaption!: HTMLElement;
  private _inView = true;
  /** What the process table's rows were built from (all but the memory figures). */
  private _processRows = '';
  /** The table's memory cells: its processes in order, then the others' total. */
  private _memoryCells: HTMLElement[] = [];
  private _chartUnits: MemoryUnits = 'GiB';
  /** A card out of view: its latest readings and processes, drawn when it comes into view. */
  private _pending = new Map<'readings' | 'processes', () => void>();
}

function naReason(
  gpu: IGPUSample | undefined,
  field: keyof IGPUSample,
  trans: TranslationBundle
): string | null {
  if (!gpu) {
    return trans.__('no reading yet');
  }
  return gpu.unavailable[field as string] ?? gpu.reason ?? null;
}

/**
 * A chart's text alternative: "Utilisation: 87% now, between 12% and 99% over the last
 * 15 minutes". Read by screen readers in place of the canvas.
 */
export function chartSummary(
  label: string,
  format: (value: number) => string,
  shown: TimeChart.IShown,
  trans: TranslationBundle
): string {
  const seconds = Math.round(shown.seconds);
  const span =
    seconds < 90
      ? trans._n('%1 second', '%1 seconds', seconds)
      : trans._n('%1 minute', '%1 minutes', Math.round(seconds / 60));
  const { latest, min, max } = shown;
  if (latest === null || min === null || max === null) {
    return trans.__('%1: no reading in the last %2', label, span);
  }
  if (min === max) {
    return trans.__('%1: %2, unchanged over the last %3', label, format(latest), span);
  }
  return trans.__(
    '%1: %2 now, between %3 and %4 over the last %5',
    label,
    format(latest),
    format(min),
    format(max),
    span
  );
}
