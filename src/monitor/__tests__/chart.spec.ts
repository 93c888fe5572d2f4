import { movesAPixel } from '../chart';

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
