import { ServerConnection } from '@jupyterlab/services';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import type { GPUScopeAPI } from '../api';
import type { IUsageReply } from '../tokens';

/** Bounds on how often `usage` is polled: the server's check interval, within these. */
const MIN_INTERVAL_MS = 2000;
const MAX_INTERVAL_MS = 60000;

/**
 * This user's share of the GPUs, polled from the server's `usage` route at the
 * server's own check interval (no faster: nothing changes in between).
 */
export class UsageModel {
  constructor(private _api: GPUScopeAPI) {
    this._poll = new Poll({
      factory: () => this._fetch(),
      frequency: { interval: 5000, backoff: true, max: MAX_INTERVAL_MS },
      standby: 'when-hidden',
      name: 'gpuscope:usage'
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The latest reply; null before the first one, or when the server has no `usage` route. */
  get usage(): IUsageReply | null {
    return this._usage;
  }

  /** Fetch now (after an action such as Keep). */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  dispose(): void {
    this._poll.dispose();
  }

  private async _fetch(): Promise<void> {
    let usage: IUsageReply;
    try {
      usage = await this._api.usage();
    } catch (error) {
      if (error instanceof ServerConnection.ResponseError && error.response.status === 404) {
        // A server extension older than this frontend: nothing to poll.
        this._poll.dispose();
        return;
      }
      throw error; // the poll backs off and tries again
    }
    this._usage = usage;
    const interval = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, usage.policy.check_seconds * 1000));
    if (interval !== this._poll.frequency.interval) {
      this._poll.frequency = { interval, backoff: true, max: Math.max(MAX_INTERVAL_MS, interval) };
    }
    this._changed.emit();
  }

  private _poll: Poll;
  private _usage: IUsageReply | null = null;
  private _changed = new Signal<this, void>(this);
}
