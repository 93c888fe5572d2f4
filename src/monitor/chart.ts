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
  const get = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  const line = get('--jp-brand-color1', '#1976d2');
  return {
    line,
    fill: get('--jp-brand-color3', 'rgba(25, 118, 210, 0.15)'),
    axis: get('--jp-ui-font-color2', '#616161'),
    grid: get('--jp-border-color2', '#e0e0e0'),
    font: `10px ${get('--jp-ui-font-family', 'sans-serif')}`
  };
}

// One formatter per precision: toLocaleTimeString builds a new one per call (slow).
const CLOCK_SECONDS = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit'
});
const CLOCK_MINUTES = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/**
 * Time tick labels on one line: "14:03" where ticks are a minute or more apart,
 * "14:03:20" only where they are closer, so the labels fit a narrow sidebar.
 */
export function clockTimes(ticks: number[], stepSeconds: number): string[] {
  const clock = stepSeconds >= 60 ? CLOCK_MINUTES : CLOCK_SECONDS;
  return ticks.map(seconds => clock.format(seconds * 1000));
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
    // Reachable by Tab: its name says what it shows, for those who cannot see it.
    this.node.tabIndex = 0;
  }

  readonly node: HTMLDivElement;

  /** Build (or rebuild, after a theme change) the chart at this width. */
  render(width: number, theme: IChartTheme): void {
    this._plot?.destroy();
    this._drawn = this._range;
    this._theme = theme;
    const { label, yRange, format } = this._options;
    const scale = this._options.scale ?? 1;
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
        // Room on the right for half of the last time label ("11:58:25 AM"), which is
        // centred on its tick and was cut off at the canvas edge.
        padding: [null, 30, null, null],
        cursor: { show: true, drag: { x: false, y: false } },
        scales: {
          x: { time: true },
          y: yRange ? { range: yRange } : { auto: true }
        },
        axes: [
          {
            ...axis,
            space: 70,
            size: 24,
            values: (_u, ticks, _axis, _space, step) => clockTimes(ticks, step)
          },
          {
            ...axis,
            size: 46,
            space: 18,
            // Data stay in their own units (bytes); ticks fall on round numbers of `scale`.
            incrs: TICK_STEPS.map(step => step * scale),
            values: (_u, ticks) => ticks.map(v => format(v / scale))
          }
        ],
        series: [{}, { label, stroke: theme.line, fill: theme.fill, width: 1.5, spanGaps: false }]
      },
      this._data,
      this.node
    );
    if (this._range) {
      this._plot.setScale('x', { min: this._range[0], max: this._range[1] });
    }
  }

  /**
   * Show the series between `from` and `to` (seconds). The arrays are the model's own,
   * not copies: uPlot draws only what falls inside the x range.
   */
  setData(time: number[], values: (number | null)[], from: number, to: number): void {
    this._data = [time, values as number[]];
    this._range = [from, to];
    let inWindow = 0;
    let latest: number | null = null;
    let min = Infinity;
    let max = -Infinity;
    for (let i = time.length - 1; i >= 0 && time[i] >= from; i--) {
      inWindow++;
      const value = values[i];
      if (typeof value === 'number') {
        latest ??= value;
        min = Math.min(min, value);
        max = Math.max(max, value);
      }
    }
    // The point count is visible to tests and assistive tech without reading the canvas.
    this.node.dataset.points = String(inWindow);
    const summary = this._options.summary?.({
      latest,
      min: latest === null ? null : min,
      max: latest === null ? null : max,
      seconds: Math.max(to - from, 0)
    });
    if (summary && this.node.getAttribute('aria-label') !== summary) {
      this.node.setAttribute('aria-label', summary);
    }
    if (
      this._plot &&
      movesAPixel(
        this._drawn,
        from,
        to,
        (this._plot.bbox?.width ?? 0) / (window.devicePixelRatio || 1)
      )
    ) {
      this._plot.setData(this._data, false);
      this._plot.setScale('x', { min: from, max: to });
      this._drawn = [from, to];
    }
  }

  /** Change the data-to-display factor (takes effect at the next render). */
  setScale(scale: number): void {
    this._options = { ...this._options, scale };
    if (this._plot && this._theme) {
      this.render(this._plot.width, this._theme);
    }
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
  private _range: [number, number] | null = null;
  /** The x range last drawn. */
  private _drawn: [number, number] | null = null;
  private _theme: IChartTheme | null = null;
}

/**
 * Whether showing [from, to] instead of the range drawn last moves anything on screen by
 * a pixel or more: the ends of the old range are where points move most. On a 15-minute
 * chart a pixel is a few seconds, so most 1-second updates need no redraw (the card's
 * text shows the latest value at once).
 */
export function movesAPixel(
  drawn: [number, number] | null,
  from: number,
  to: number,
  widthPx: number
): boolean {
  if (!drawn || widthPx <= 0 || to <= from) {
    return true;
  }
  const x = (t: number) => (widthPx * (t - from)) / (to - from);
  return Math.max(Math.abs(x(drawn[0])), Math.abs(x(drawn[1]) - widthPx)) >= 1;
}

// Tick steps in display units: 0.1, 0.2, 0.5, 1, 2, 5, ... 1000.
const TICK_STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

export namespace TimeChart {
  export interface IOptions {
    label: string;
    /** Fixed y range ([0, 100] for percentages); auto when omitted. */
    yRange?: [number, number];
    format: (value: number) => string;
    /** Data units per display unit (2**30 for bytes shown as GiB). */
    scale?: number;
    height?: number;
    /** The chart's text alternative from what it shows (the label alone without it). */
    summary?: (shown: IShown) => string;
  }

  /** What a chart shows: its newest value and the range over the window, in data units
   * (null when the window holds no reading). */
  export interface IShown {
    latest: number | null;
    min: number | null;
    max: number | null;
    /** How long the window is. */
    seconds: number;
  }
}
