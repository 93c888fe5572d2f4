import uPlot from 'uplot';

/** Colours read from the current JupyterLab theme (only var(--jp-*)). */
export interface IChartTheme {
  line: string;
  fill: string;
  axis: string;
  grid: string;
  font: string;
}

export function readTheme(element: HTMLElement = document.body): IChartTheme {
  const style = getComputedStyle(element);
  const get = (name: string, fallback: string) =>
    style.getPropertyValue(name).trim() || fallback;
  const line = get('--jp-brand-color1', '#1976d2');
  return {
    line,
    fill: get('--jp-brand-color3', 'rgba(25, 118, 210, 0.15)'),
    axis: get('--jp-ui-font-color2', '#616161'),
    grid: get('--jp-border-color2', '#e0e0e0'),
    font: `10px ${get('--jp-ui-font-family', 'sans-serif')}`
  };
}

/** "14:03:20": one line, so the axis stays short. */
function clockTime(seconds: number): string {
  return new Date(seconds * 1000).toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit'
  });
}

/**
 * One small time-series chart (uPlot) with a fixed y unit. The series may hold nulls:
 * they show as gaps, never as zeros.
 */
export class TimeChart {
  constructor(options: TimeChart.IOptions) {
    this._options = options;
    this.node = document.createElement('div');
    this.node.className = 'jp-gpuscope-Chart';
    this.node.setAttribute('role', 'img');
    this.node.setAttribute('aria-label', options.label);
  }

  readonly node: HTMLDivElement;

  /** Build (or rebuild, after a theme change) the chart at this width. */
  render(width: number, theme: IChartTheme): void {
    this._plot?.destroy();
    const { label, yRange, format } = this._options;
    const axis = {
      stroke: theme.axis,
      font: theme.font,
      grid: { stroke: theme.grid, width: 1 },
      ticks: { stroke: theme.grid, width: 1 }
    };
    this._plot = new uPlot(
      {
        width: Math.max(width, 120),
        height: this._options.height ?? 110,
        legend: { show: false },
        cursor: { show: true, drag: { x: false, y: false } },
        scales: {
          x: { time: true },
          y: yRange ? { range: yRange } : { auto: true }
        },
        axes: [
          { ...axis, space: 60, size: 24, values: (_u, ticks) => ticks.map(clockTime) },
          { ...axis, size: 46, space: 18, values: (_u, ticks) => ticks.map(format) }
        ],
        series: [
          {},
          { label, stroke: theme.line, fill: theme.fill, width: 1.5, spanGaps: false }
        ]
      },
      this._data,
      this.node
    );
  }

  setData(time: number[], values: (number | null)[]): void {
    this._data = [time, values as number[]];
    // The point count is visible to tests and assistive tech without reading the canvas.
    this.node.dataset.points = String(time.length);
    this._plot?.setData(this._data);
  }

  setWidth(width: number): void {
    this._plot?.setSize({ width: Math.max(width, 120), height: this._options.height ?? 110 });
  }

  dispose(): void {
    this._plot?.destroy();
    this._plot = null;
  }

  private _options: TimeChart.IOptions;
  private _plot: uPlot | null = null;
  private _data: uPlot.AlignedData = [[], []];
}

export namespace TimeChart {
  export interface IOptions {
    label: string;
    /** Fixed y range ([0, 100] for percentages); auto when omitted. */
    yRange?: [number, number];
    format: (value: number) => string;
    height?: number;
  }
}
