import { MonitorModel } from '../model';
import { devicesReply, FakeAPI, flush, gpu, sample, processesReply } from '../../__tests__/fakes';

describe('MonitorModel', () => {
  let api: FakeAPI;
  let model: MonitorModel;

  beforeEach(() => {
    jest.useFakeTimers();
    api = new FakeAPI();
    model = new MonitorModel({ api: api, reconnectDelaysMs: [100, 200] });
  });

  afterEach(() => {
    model.dispose();
    jest.useRealTimers();
  });

  it('fills history from the server, then extends it from the stream', async () => {
    api.history = [sample(1), sample(2), sample(3)];
    await model.start();
    api.socket.open();
    expect(model.connection).toBe('connected');
    expect(model.history(0).time).toEqual([1001, 1002, 1003]);
    api.socket.deliver(sample(4, [gpu(0, { util_gpu: 12 })]));
    expect(model.history(0).utilization).toEqual([87, 87, 87, 12]);
    expect(model.latest?.seq).toBe(4);
  });

  it('ignores a sample it already has', async () => {
    api.history = [sample(1), sample(2)];
    await model.start();
    api.socket.deliver(sample(2));
    expect(model.history(0).time).toHaveLength(2);
  });

  it('fetches missed samples when the stream skips ahead', async () => {
    api.history = [sample(1)];
    await model.start();
    api.socket.open();
    api.history = [sample(1), sample(2), sample(3), sample(4)];
    api.socket.deliver(sample(4));
    await flush();
    expect(api.sinceAsked).toEqual([undefined, 1]);
    expect(model.history(0).time).toEqual([1001, 1002, 1003, 1004]);
  });

  it('a throttled stream skips sequence numbers without a history request per update', async () => {
    api.devicesReply = devicesReply({ interval_seconds: 0.25 });
    api.history = [sample(1, [gpu(0)], 1000)];
    await model.start();
    api.socket.open();
    model.setMinInterval(1);
    api.socket.deliver(sample(5, [gpu(0)], 1001));
    api.socket.deliver(sample(9, [gpu(0)], 1002));
    await flush();
    expect(api.sinceAsked).toEqual([undefined]);
    expect(model.history(0).time).toEqual([1000, 1001, 1002]);
    // A real silence (10 s) is still filled from the history.
    api.history = [sample(9, [gpu(0)], 1002), sample(49, [gpu(0)], 1012)];
    api.socket.deliver(sample(49, [gpu(0)], 1012));
    await flush();
    expect(api.sinceAsked).toEqual([undefined, 9]);
  });

  it('keeps nulls as gaps, never zeros', async () => {
    api.history = [sample(1, [gpu(0, { power_mw: null })])];
    await model.start();
    expect(model.history(0).powerWatts).toEqual([null]);
  });

  it('drops history older than the longest chart window', async () => {
    api.history = [sample(1, [gpu(0)], 0), sample(2, [gpu(0)], 100), sample(3, [gpu(0)], 3700)];
    await model.start();
    expect(model.history(0).time).toEqual([100, 3700]);
  });

  it('goes offline when the stream drops and reconnects with backoff', async () => {
    api.history = [sample(1)];
    await model.start();
    api.socket.open();
    const changes = jest.fn();
    model.changed.connect(changes);
    api.fail = new Error('Failed to fetch');
    api.socket.drop();
    expect(model.connection).toBe('offline');
    expect(model.connectionError).toBe('the GPU stream closed');
    jest.advanceTimersByTime(100);
    await flush();
    expect(model.connection).toBe('offline');
    expect(model.connectionError).toBe('Failed to fetch');
    api.fail = null;
    api.history = [sample(1), sample(2)];
    jest.advanceTimersByTime(199);
    await flush();
    expect(api.sockets).toHaveLength(1); // the second wait is longer
    jest.advanceTimersByTime(1);
    await flush();
    expect(api.sockets).toHaveLength(2);
    api.socket.open();
    expect(model.connection).toBe('connected');
    expect(model.history(0).time).toEqual([1001, 1002]);
    expect(changes).toHaveBeenCalled();
  });

  it('starts over when the server restarted (new run id)', async () => {
    api.history = [sample(1), sample(2), sample(3)];
    await model.start();
    api.socket.open();
    api.devicesReply = devicesReply({ run_id: 'run2' });
    api.history = [sample(1, [gpu(0)], 5000)];
    api.socket.deliver({ ...api.devicesReply, type: 'hello', last_seq: 1 });
    await flush();
    await flush();
    expect(model.history(0).time).toEqual([5000]);
  });

  it('pauses and resumes the stream, catching up on resume', async () => {
    api.history = [sample(1)];
    await model.start();
    api.socket.open();
    model.pause();
    expect(model.paused).toBe(true);
    expect(api.socket.sent).toContainEqual({ action: 'pause' });
    api.history = [sample(1), sample(2), sample(3)];
    model.resume();
    await flush();
    expect(api.socket.sent).toContainEqual({ action: 'resume' });
    expect(model.history(0).time).toEqual([1001, 1002, 1003]);
  });

  it('a failed catch-up on resume leaves a gap, not an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      api.history = [sample(1)];
      await model.start();
      api.socket.open();
      model.pause();
      api.fail = new Error('server restarting');
      model.resume();
      await flush();
      // Node reports an unhandled rejection after the macrotask: wait for one (real timers).
      await new Promise(resolve => jest.requireActual('timers').setImmediate(resolve));
      expect(unhandled).toEqual([]);
      // The stream goes on: the next sample is drawn, the missed span stays a gap.
      api.fail = null;
      api.history = [sample(1), sample(5)];
      api.socket.deliver(sample(5));
      await flush();
      expect(model.latest?.seq).toBe(5);
      expect(model.connection).toBe('connected');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('asks the server to throttle to the update interval', async () => {
    await model.start();
    api.socket.open();
    model.setMinInterval(5);
    expect(api.socket.sent).toContainEqual({ action: 'throttle', min_interval_seconds: 5 });
  });

  it('re-reads the devices when the backend status changes', async () => {
    await model.start();
    api.socket.open();
    api.devicesReply = devicesReply({ status: 'unavailable', reason: 'GPU lost', devices: [] });
    api.socket.deliver({ type: 'status', status: 'unavailable', reason: 'GPU lost' });
    await flush();
    expect(model.devices?.status).toBe('unavailable');
    expect(model.devices?.reason).toBe('GPU lost');
  });

  it('asks the stream for process lists while watched, and draws one with the next reading', async () => {
    api.history = [sample(1)];
    const reply = processesReply([
      {
        index: 0,
        processes: [],
        others: { count: 1, used_memory: 1024, by_instance: {} }
      }
    ]);
    api.processesReply = reply;
    await model.start();
    api.socket.open();
    const order: string[] = [];
    model.processesChanged.connect(() => order.push('processes'));
    model.changed.connect(() => order.push('reading'));
    const watch = model.watchProcesses();
    const second = model.watchProcesses();
    // One request for however many views watch; nothing is polled.
    expect(api.socket.sent.filter(m => m.action === 'processes')).toEqual([
      { action: 'processes', on: true }
    ]);
    api.socket.deliver({ type: 'processes', reply });
    expect(order).toEqual([]);
    api.socket.deliver(sample(2));
    expect(order).toEqual(['processes', 'reading']);
    expect(model.processes).toEqual(reply);

    // No reading within two intervals (a stalled stream): the list is shown anyway.
    order.length = 0;
    api.socket.deliver({ type: 'processes', reply });
    await jest.advanceTimersByTimeAsync(1900);
    expect(order).toEqual([]);
    await jest.advanceTimersByTimeAsync(200);
    expect(order).toEqual(['processes']);

    // Asked for (after a shut-down, say): at once.
    order.length = 0;
    await model.refreshProcesses();
    expect(order).toEqual(['processes']);
    second.dispose();
    watch.dispose();
    expect(api.socket.sent.filter(m => m.action === 'processes').pop()).toEqual({
      action: 'processes',
      on: false
    });
  });

  it('a pushed process list waits for the next reading of a throttled stream, not the sampler tick', async () => {
    // The server samples every 0.25 s; the panel asked for a reading a second. A list
    // shown 0.5 s after its push would cost the browser a frame of its own per update.
    api.devicesReply = devicesReply({ interval_seconds: 0.25 });
    api.history = [sample(1, [gpu(0)], 1000)];
    await model.start();
    api.socket.open();
    model.setMinInterval(1);
    const order: string[] = [];
    model.processesChanged.connect(() => order.push('processes'));
    model.changed.connect(() => order.push('reading'));
    model.watchProcesses();
    api.socket.deliver({ type: 'processes', reply: processesReply([]) });
    await jest.advanceTimersByTimeAsync(900);
    expect(order).toEqual([]);
    api.socket.deliver(sample(5, [gpu(0)], 1001));
    expect(order).toEqual(['processes', 'reading']);
  });

  it('runs what waits for the next reading once, with it; at once while paused', async () => {
    api.history = [sample(1)];
    await model.start();
    api.socket.open();
    const draw = jest.fn();
    model.withNextReading(draw, 5000);
    model.withNextReading(draw, 5000);
    expect(draw).not.toHaveBeenCalled();
    api.socket.deliver(sample(2));
    expect(draw).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(5000);
    expect(draw).toHaveBeenCalledTimes(1); // its timer went with it
    model.pause();
    model.withNextReading(draw, 5000);
    expect(draw).toHaveBeenCalledTimes(2);
  });
});
