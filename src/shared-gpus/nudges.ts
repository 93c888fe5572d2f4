import { Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IGPUShare, ISharedGPUsReply } from '../api';
import { idleMessage, limitToast, noticeMessage, shutDownMessage } from './text';
import type { MemoryUnits } from '../tokens';

/** What the nudge's buttons do. */
export interface INudgeActions {
  shutDown(kernelId: string): Promise<void>;
  keep(kernelId: string): Promise<void>;
}

/** The part of `Storage` used: localStorage is shared by the tabs of one browser. */
export type NudgeStorage = Pick<Storage, 'getItem' | 'setItem'>;

const SHOWN_KEY = 'jupyterlab-gpuscope:nudges-shown';
const LIMIT_KEY = 'jupyterlab-gpuscope:limit-states';
const MAX_REMEMBERED = 200;
const RANK: Record<IGPUShare['state'], number> = { ok: 0, near: 1, over: 2 };

/**
 * Turns `usage` replies into notifications: one per idle period of a kernel holding GPU
 * memory (with "Shut down kernel" and "Keep"), one per shut-down gpuscope made, one per
 * note from the class's instructor (with "Shut down kernel"), and one
 * when this user's memory rises past the warning level or the limit. What was shown is
 * remembered in localStorage, so other tabs and a page reload do not repeat it.
 */
export class NudgeNotifier {
  constructor(
    private _actions: INudgeActions,
    private _trans: TranslationBundle,
    private _storage: NudgeStorage | null = globalThis.localStorage ?? null
  ) {}

  update(usage: ISharedGPUsReply, units: MemoryUnits): void {
    const remembered = this._read(SHOWN_KEY);
    const shown = Array.isArray(remembered)
      ? remembered.filter((id): id is string => typeof id === 'string')
      : [];
    const seen = new Set(shown);

    const current = new Set(usage.idle.map(idle => idle.nudge_id));
    for (const [nudgeId, toast] of this._open) {
      if (!current.has(nudgeId)) {
        Notification.dismiss(toast); // kept, busy again or shut down meanwhile
        this._open.delete(nudgeId);
      }
    }
    for (const idle of usage.idle) {
      if (seen.has(idle.nudge_id)) {
        continue;
      }
      seen.add(idle.nudge_id);
      shown.push(idle.nudge_id);
      const toast = Notification.warning(
        this._labelled(usage, idleMessage(idle, usage.checked_at, units, this._trans)),
        {
          autoClose: false,
          actions: [
            this._shutDownAction(idle.kernel_id),
            {
              label: this._trans.__('Keep'),
              caption: this._trans.__(
                'Keep it running; you will be asked again after another idle period'
              ),
              callback: () => this._act(() => this._actions.keep(idle.kernel_id))
            }
          ]
        }
      );
      this._open.set(idle.nudge_id, toast);
    }
    for (const entry of usage.shut_down) {
      const id = `shutdown:${entry.kernel_id}@${entry.at}`;
      if (!seen.has(id)) {
        seen.add(id);
        shown.push(id);
        Notification.info(shutDownMessage(entry, units, this._trans), { autoClose: false });
      }
    }
    for (const notice of usage.notices) {
      const id = `notice:${notice.id}`;
      if (!seen.has(id)) {
        seen.add(id);
        shown.push(id);
        Notification.warning(noticeMessage(notice, units, this._trans), {
          autoClose: false,
          actions: [this._shutDownAction(notice.kernel_id)]
        });
      }
    }
    this._write(SHOWN_KEY, shown.slice(-MAX_REMEMBERED));
    this._notifyLimits(usage, units);
  }

  private _notifyLimits(usage: ISharedGPUsReply, units: MemoryUnits): void {
    const remembered = this._read(LIMIT_KEY);
    const states: Record<string, string> =
      remembered && typeof remembered === 'object' && !Array.isArray(remembered)
        ? (remembered as Record<string, string>)
        : {};
    for (const gpu of usage.gpus) {
      const key = `${usage.run_id}:${gpu.index}`;
      const before = RANK[states[key] as IGPUShare['state']] ?? 0;
      if (RANK[gpu.state] > before) {
        const notify = gpu.state === 'over' ? Notification.error : Notification.warning;
        notify(this._labelled(usage, limitToast(gpu, units, this._trans)), { autoClose: false });
      }
      states[key] = gpu.state;
    }
    this._write(LIMIT_KEY, states);
  }

  /** A message about readings from a recording says so. */
  private _labelled(usage: ISharedGPUsReply, text: string): string {
    return usage.live ? text : this._trans.__('%1 (replay readings)', text);
  }

  /** A toast's "Shut down kernel" button. */
  private _shutDownAction(kernelId: string): Notification.IAction {
    return {
      label: this._trans.__('Shut down kernel'),
      caption: this._trans.__('Frees its GPU memory now; the variables in the kernel are lost'),
      displayType: 'warn',
      callback: () => this._act(() => this._actions.shutDown(kernelId))
    };
  }

  private _act(action: () => Promise<void>): void {
    action().catch(error =>
      Notification.error(
        this._trans.__('The GPU action failed: %1', String((error as Error).message ?? error))
      )
    );
  }

  /** The stored value, unchecked; null when absent or unreadable (private mode, hand edits). */
  private _read(key: string): unknown {
    try {
      const raw = this._storage?.getItem(key);
      return raw ? JSON.parse(raw) : null;
    } catch {
      return null;
    }
  }

  private _write(key: string, value: unknown): void {
    try {
      this._storage?.setItem(key, JSON.stringify(value));
    } catch {
      // Storage full or refused: notifications may repeat in other tabs, nothing worse.
    }
  }

  private _open = new Map<string, string>();
}
