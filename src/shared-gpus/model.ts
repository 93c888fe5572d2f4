import { ServerConnection } from '@jupyterlab/services';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import type { IGPUShare, ISharedGPUsReply } from '../api';
import { formatUsedOfTotal } from '../core/memory';
import { outsideLine, usageLine, worthALine } from './text';
import type { IGPUScopeAPI, ISharedGPUs, IStatusContribution, MemoryUnits } from '../tokens';

/** Bounds on how often `usage` is polled: the server's check interval, within these. */
const MIN_INTERVAL_MS = 2000;
const MAX_INTERVAL_MS = 60000;

/**
 * This user's share of the GPUs, polled from the server's `usage` route at the
 * server's own check interval (no faster: nothing changes in between).
 */
export class SharedGPUsModel implements ISharedGPUs {
  constructor(
    private _api: IGPUScopeAPI,
    private _trans: TranslationBundle
  ) {
    this._poll = new Poll({
      factory: () => this._fetch(),
      frequency: { interval: 5000, backoff: true, max: MAX_INTERVAL_MS },
      standby: 'when-hidden',
      name: 'gpuscope:usage',
      auto: false
    });
  }

  /** Start polling (the plugin does after JupyterLab's startup). */
  start(): void {
    void this._poll.start();
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The latest reply; null before the first one, or when the server has no `usage` route. */
  get usage(): ISharedGPUsReply | null {
    return this._usage;
  }

  /**
   * Fetch now (after an action such as Keep) and resolve once the new reply is in:
   * `Poll.refresh()` alone resolves when the fetch is scheduled, before it answers.
   */
  async refresh(): Promise<void> {
    await this._poll.refresh();
    await this._poll.tick;
  }

  statusFor(gpuIndices: number[], units: MemoryUnits): IStatusContribution {
    const trans = this._trans;
    const shares = (this._usage?.gpus ?? []).filter(share => gpuIndices.includes(share.index));
    const contribution: IStatusContribution = {
      suffix: null,
      level: 'normal',
      lines: shares
        .filter(worthALine)
        .flatMap(share => [usageLine(share, units, trans), outsideLine(share, units, trans)])
        .filter((line): line is string => line !== null)
    };
    const limited = shares.filter(share => share.limit !== null);
    if (limited.length) {
      // The GPU closest to its limit: "you 3.1/4.0 GiB".
      const ratio = (share: IGPUShare) => share.mine / (share.limit as number);
      const top = limited.reduce((a, b) => (ratio(b) > ratio(a) ? b : a));
      contribution.suffix = trans.__('you %1', formatUsedOfTotal(top.mine, top.limit, units));
      contribution.level =
        top.state === 'over' ? 'critical' : top.state === 'near' ? 'warning' : 'normal';
    }
    return contribution;
  }

  dispose(): void {
    this._poll.dispose();
  }

  private async _fetch(): Promise<void> {
    let usage: ISharedGPUsReply;
    try {
      usage = await this._api.sharedGPUs();
    } catch (error) {
      if (error instanceof ServerConnection.ResponseError && error.response.status === 404) {
        // A server extension older than this frontend: nothing to poll.
        this._poll.dispose();
        return;
      }
      throw error; // the poll backs off and tries again
    }
    this._usage = usage;
    const interval = Math.min(
      MAX_INTERVAL_MS,
      Math.max(MIN_INTERVAL_MS, usage.policy.check_seconds * 1000)
    );
    if (interval !== this._poll.frequency.interval) {
      this._poll.frequency = { interval, backoff: true, max: Math.max(MAX_INTERVAL_MS, interval) };
    }
    this._changed.emit();
  }

  private _poll: Poll;
  private _usage: ISharedGPUsReply | null = null;
  private _changed = new Signal<this, void>(this);
}
