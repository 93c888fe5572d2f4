import { nullTranslator } from '@jupyterlab/translation';

import {
  annotationDetails,
  annotationText,
  fitWarning,
  ICellRecord,
  summarize,
  utilizationDuring
} from '../usage';

const GiB = 2 ** 30;
const trans = nullTranslator.load('jupyterlab_gpuscope');

function record(
  overrides: Partial<ICellRecord['devices'][0]> = {},
  extra: Partial<ICellRecord> = {}
): ICellRecord {
  return {
    execution_count: 4,
    start: 1000,
    end: 1003.5,
    devices: [
      {
        index: 0,
        uuid: 'bcc1dfc1',
        peak_allocated: 3.2 * GiB,
        peak_reserved: 4 * GiB,
        allocated_before: 2.1 * GiB,
        allocated_after: 3.2 * GiB,
        ...overrides
      }
    ],
    ...extra
  };
}

describe('what a cell did on the GPU', () => {
  it('peak, change and utilisation in one short line', () => {
    const usage = summarize(record(), () => ({ value: 93.6, recorded: false }))!;
    expect(annotationText(usage, 'GiB', trans)).toBe('GPU peak 3.20 GiB (+1.10 GiB) · util 94 %');
    expect(annotationDetails(usage, 'peak', 'GiB', trans)).toContain(
      'cuda:0: peak 3.20 GiB allocated, 4.00 GiB reserved by PyTorch; 2.10 GiB allocated before, 3.20 GiB after'
    );
    expect(annotationDetails(usage, 'peak', 'GiB', trans)).toContain('ran 3.50 s');
  });

  it('in GB when the user picked decimal units, and small amounts in MB', () => {
    const usage = summarize(record({ allocated_before: 3.2 * GiB - 12 * 2 ** 20 }), () => null)!;
    expect(annotationText(usage, 'GB', trans)).toBe('GPU peak 3.44 GB (+12.58 MB)');
  });

  it('freed memory shows as a negative change; no utilisation when none was sampled', () => {
    const usage = summarize(
      record({ peak_allocated: 2 * GiB, allocated_before: 2 * GiB, allocated_after: 0.5 * GiB }),
      () => null
    )!;
    expect(annotationText(usage, 'GiB', trans)).toBe('GPU peak 2.00 GiB (−1.50 GiB)');
  });

  it('utilisation from a replayed recording is labelled', () => {
    const usage = summarize(record(), () => ({ value: 50, recorded: true }))!;
    expect(annotationText(usage, 'GiB', trans)).toBe(
      'GPU peak 3.20 GiB (+1.10 GiB) · util 50 % (replay)'
    );
    expect(annotationDetails(usage, 'peak', 'GiB', trans)).toContain('from the replayed recording');
  });

  it('a cell that did not touch the GPU gets nothing', () => {
    expect(
      summarize(
        record({ peak_allocated: 2 * GiB, allocated_before: 2 * GiB, allocated_after: 2 * GiB })
      )
    ).toBeNull();
  });

  it('several devices: the line is about the one the cell used most', () => {
    const r = record(
      {},
      {
        devices: [
          {
            index: 0,
            uuid: null,
            peak_allocated: GiB,
            peak_reserved: GiB,
            allocated_before: GiB,
            allocated_after: GiB
          },
          {
            index: 1,
            uuid: null,
            peak_allocated: 6 * GiB,
            peak_reserved: 8 * GiB,
            allocated_before: 1 * GiB,
            allocated_after: 1 * GiB
          }
        ]
      }
    );
    const usage = summarize(r)!;
    expect(usage.device.index).toBe(1);
    expect(annotationText(usage, 'GiB', trans)).toBe('GPU peak 6.00 GiB (+0 bytes)');
  });

  it('CUDA started in the cell: no start time, so no utilisation and no duration', () => {
    const ask = jest.fn();
    const usage = summarize(record({}, { start: null }), ask)!;
    expect(ask).not.toHaveBeenCalled();
    expect(usage.seconds).toBeNull();
  });

  it('malformed records are ignored', () => {
    expect(summarize({} as ICellRecord)).toBeNull();
    expect(summarize(record({ peak_allocated: NaN }))).toBeNull();
    expect(summarize(record({ index: 'x' as unknown as number }))).toBeNull();
  });
});

describe('utilisation while a cell ran', () => {
  const history = {
    time: [998, 999, 1000, 1001, 1002, 1003, 1004],
    utilization: [5, 5, 80, 90, null, 100, 7],
    memoryUsed: [],
    powerWatts: [],
    pcieKBs: [],
    nvlinkKBs: []
  };

  it('the mean of the samples in the run, and the one after it', () => {
    expect(utilizationDuring(history, 1000, 1002.5, 1)).toBeCloseTo((80 + 90 + 100) / 3);
  });

  it('none sampled: unknown, not zero', () => {
    expect(utilizationDuring(history, 1010, 1011, 1)).toBeNull();
  });
});

describe('the per-cell line is translated', () => {
  it('goes through the translation bundle, as one message', () => {
    const base = nullTranslator.load('jupyterlab_gpuscope');
    const marked = {
      ...base,
      __: (message: string, ...args: unknown[]) => `«${base.__(message, ...(args as string[]))}»`
    };
    const usage = summarize(record(), () => ({ value: 50, recorded: false }))!;
    // One message, with the memory part as a placeholder: ««GPU peak …» · util 50 %».
    expect(annotationText(usage, 'GiB', marked)).toBe(
      '««GPU peak 3.20 GiB (+1.10 GiB)» · util 50 %»'
    );
    const details = annotationDetails(usage, 'peak', 'GiB', marked).split('\n');
    expect(details.every(line => line.startsWith('«'))).toBe(true);
  });
});

describe("a cell measured without resetting torch's peak statistics (the default)", () => {
  it('below an earlier high it shows what it left allocated, never a made-up peak', () => {
    const usage = summarize(
      record(
        {
          peak_allocated: null,
          peak_reserved: null,
          allocated_before: 3 * GiB,
          allocated_after: 1.5 * GiB
        },
        { mode: 'change' }
      )
    )!;
    expect(usage.peak).toBeNull();
    expect(annotationText(usage, 'GiB', trans)).toBe('GPU −1.50 GiB, 1.50 GiB held');
    const details = annotationDetails(usage, 'change', 'GiB', trans);
    expect(details).toContain('cuda:0: 3.00 GiB allocated before, 1.50 GiB after');
    expect(details).toContain('No peak of its own');
  });

  it("a new high-water mark is the cell's own peak", () => {
    const usage = summarize(record({}, { mode: 'change' }))!;
    expect(annotationText(usage, 'GiB', trans)).toBe('GPU peak 3.20 GiB (+1.10 GiB)');
  });
});

describe('records a real kernel sent on an H100 (scripts/gpu_cell_usage_records.py)', () => {
  const cells = require('./fixtures/h100-cells.json') as { code: string; records: ICellRecord[] }[];
  const lines = cells.map(cell => {
    const usage = summarize(cell.records[0]);
    return usage ? annotationText(usage, 'GiB', trans) : null;
  });

  it('small allocation (CUDA starts here), large allocation, freeing it, and a cell without GPU work', () => {
    expect(lines).toEqual([
      'GPU peak 4.00 MiB (+4.00 MiB)',
      'GPU peak 8.04 GiB (+8.03 GiB)',
      'GPU peak 8.04 GiB (−8.00 GiB)',
      null
    ]);
  });
});

describe('will a cell fit again', () => {
  const GiB = 2 ** 30;
  const usage = (peak: number | null) =>
    ({
      device: {
        index: 0,
        uuid: null,
        peak_allocated: peak,
        peak_reserved: peak,
        allocated_before: 1 * GiB,
        allocated_after: 1 * GiB
      }
    }) as never;
  const gpu = { index: 0, memory_total: 80 * GiB, memory_used: 77 * GiB };

  it('needs its peak above what it started with, against free memory plus the cache', () => {
    expect(fitWarning(usage(5 * GiB), gpu, 0)).toEqual({
      needed: 4 * GiB,
      available: 3 * GiB,
      gpu: 0
    });
    expect(fitWarning(usage(5 * GiB), gpu, 1 * GiB)).toBeNull();
  });

  it('says nothing when a figure is unknown', () => {
    expect(fitWarning(usage(null), gpu, 0)).toBeNull(); // no peak of its own last time
    expect(fitWarning(usage(5 * GiB), { ...gpu, memory_used: null }, 0)).toBeNull();
    expect(fitWarning(usage(5 * GiB), null, 0)).toBeNull();
  });
});
