import { nullTranslator } from '@jupyterlab/translation';

import { chartSummary } from '../card';
import { clockTimes, movesAPixel, TimeChart } from '../chart';
import { formatPercent } from '../format';

describe('when a history chart is redrawn', () => {
  // A 15-minute window over 300 px: 3 s per pixel.
  const window15 = 900;

  it('always the first time, and for another window', () => {
    expect(movesAPixel(null, 0, window15, 300)).toBe(true);
    expect(movesAPixel([0, window15], 600, window15, 300)).toBe(true);
  });

  it('not for an update that moves the same window by less than a pixel', () => {
    expect(movesAPixel([0, window15], 1, window15 + 1, 300)).toBe(false);
    expect(movesAPixel([0, window15], 2.9, window15 + 2.9, 300)).toBe(false);
  });

  it('once the window has moved a pixel or more', () => {
    expect(movesAPixel([0, window15], 3, window15 + 3, 300)).toBe(true);
    // A 1-minute window over 300 px: 0.2 s per pixel, so every 1 s update redraws.
    expect(movesAPixel([0, 60], 1, 61, 300)).toBe(true);
  });

  it('while the history is shorter than the window (the span grows): when the right end moves a pixel', () => {
    // 100 s of history over 300 px: one more second moves the old end by ~3 px.
    expect(movesAPixel([100, 200], 100, 201, 300)).toBe(true);
    // 1000 s of history: 0.3 px.
    expect(movesAPixel([100, 1100], 100, 1101, 300)).toBe(false);
  });

  it('when the chart has no width yet', () => {
    expect(movesAPixel([0, window15], 1, window15 + 1, 0)).toBe(true);
  });
});

describe("a history chart's text alternative", () => {
  const trans = nullTranslator.load('test');
  const utilisation = () =>
    new TimeChart({
      label: 'Utilisation',
      format: v => `${v}%`,
      summary: shown => chartSummary('Utilisation', formatPercent, shown, trans)
    });

  it('follows the data: the newest value and the range over the window', () => {
    const chart = utilisation();
    const time = [100, 160, 220, 280, 340, 1000];
    const values = [95, 12, null, 99, 40, 87];
    chart.setData(time, values, 100, 1000);
    expect(chart.node.getAttribute('role')).toBe('img');
    expect(chart.node.getAttribute('aria-label')).toBe(
      'Utilisation: 87% now, between 12% and 99% over the last 15 minutes'
    );
    // A new reading, and the window moves past the oldest one (95 %).
    time.push(1001);
    values.push(20);
    chart.setData(time, values, 150, 1001);
    expect(chart.node.getAttribute('aria-label')).toBe(
      'Utilisation: 20% now, between 12% and 99% over the last 14 minutes'
    );
  });

  it('says when the window holds no reading, and when nothing changed', () => {
    const chart = utilisation();
    chart.setData([10, 20], [null, null], 0, 30);
    expect(chart.node.getAttribute('aria-label')).toBe(
      'Utilisation: no reading in the last 30 seconds'
    );
    chart.setData([10, 20], [50, 50], 0, 30);
    expect(chart.node.getAttribute('aria-label')).toBe(
      'Utilisation: 50%, unchanged over the last 30 seconds'
    );
  });

  it('can be reached with Tab', () => {
    expect(utilisation().node.tabIndex).toBe(0);
  });
});

describe('time labels under a chart', () => {
  const t = Date.UTC(2026, 11, 7, 14, 3, 20) / 1000;

  it('leave the seconds out where ticks are a minute or more apart', () => {
    const [minutes] = clockTimes([t], 60);
    const [seconds] = clockTimes([t], 20);
    expect(seconds).toMatch(/20/);
    expect(minutes).not.toMatch(/:20\b/);
    expect(minutes.length).toBeLessThan(seconds.length);
  });
});
