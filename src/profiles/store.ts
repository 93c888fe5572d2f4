/**
 * The device profile each notebook is linted for: a "lint as if for" target from the
 * settings, else what a cheap silent probe found in the notebook's kernel, else the GPUs
 * the server sees.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import { ISignal, Signal } from '@lumino/signaling';

import { IProbe, PROBE_MIME, profileFromProbe } from '../core/profiles/probe';
import type { IDeviceProfile } from '../core/lint/analyzer';
import { runSilently } from '../ui/silent';
import type { IDeviceProfiles, IGPUScopeAPI } from '../tokens';

/** How long a probe may wait for a busy kernel, and how often a kernel is asked. */
const PROBE_WAIT_MS = 60000;
const MAX_PROBE_ATTEMPTS = 3;

/** Kernel profiles by kernel id, probed once per kernel start. */
export class ProfileStore implements IDeviceProfiles {
  constructor(private _api: IGPUScopeAPI) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * The profile for a session: the target, the kernel's, else the server's (never a
   * recording's: replayed GPUs are not this machine's). None while the target is invalid.
   */
  profileFor(session: ISessionContext | null): IDeviceProfile | null {
    if (this._targetProblem) {
      return null;
    }
    return (
      this._target ?? this.kernelProfile(session) ?? (this._server?.recorded ? null : this._server)
    );
  }

  /** Why the settings' lint target cannot be used (an unknown GPU), or null. */
  get targetProblem(): string | null {
    return this._targetProblem;
  }

  /** What the session's kernel itself can use (never the lint target); null if not probed. */
  kernelProfile(session: ISessionContext | null): IDeviceProfile | null {
    const kernelId = session?.session?.kernel?.id;
    return (kernelId && this._kernels.get(kernelId)) || null;
  }

  /** The GPUs the server sees. */
  get serverProfile(): IDeviceProfile | null {
    return this._server;
  }

  setTarget(profile: IDeviceProfile | null, problem: string | null = null): void {
    this._target = profile;
    this._targetProblem = problem;
    this._changed.emit();
  }

  setServerProfile(profile: IDeviceProfile | null): void {
    this._server = profile;
    this._changed.emit();
  }

  /** Probe a kernel (once per kernel start); Python kernels only. */
  async probe(session: ISessionContext): Promise<void> {
    const kernel = session.session?.kernel;
    if (!kernel || this._probed.has(kernel.id)) {
      return;
    }
    if (!this._watched.has(kernel)) {
      // A restart keeps the kernel id, but the environment may have changed (a new
      // torch installed before restarting): probe again once it is up.
      this._watched.add(kernel);
      kernel.statusChanged.connect((_, status) => {
        if (status === 'restarting' || status === 'autorestarting') {
          this._probed.delete(kernel.id);
          this._attempts.delete(kernel.id);
        } else if (status === 'idle' && !this._probed.has(kernel.id)) {
          void this.probe(session).catch(() => undefined);
        }
      });
    }
    // A kernel still starting (a notebook that just changed kernel) can lose the request:
    // the watch above probes it once it is idle.
    if (kernel.status !== 'idle' && kernel.status !== 'busy') {
      return;
    }
    this._probed.add(kernel.id);
    const info = await kernel.info;
    if (info.language_info.name !== 'python') {
      return;
    }
    if (!this._probe) {
      this._probe = (await this._api.collector()).probe;
    }
    const run = await runSilently(kernel, this._probe, { waitMs: PROBE_WAIT_MS });
    const data = run.displays.find(display => PROBE_MIME in display)?.[PROBE_MIME];
    if (data) {
      this._kernels.set(kernel.id, profileFromProbe(data as unknown as IProbe));
      this._changed.emit();
      return;
    }
    // No answer (lost, or the kernel was busy past the wait): ask again at the next idle,
    // a few times at most, so that a kernel where the probe fails is not asked forever.
    const attempts = (this._attempts.get(kernel.id) ?? 0) + 1;
    this._attempts.set(kernel.id, attempts);
    if (attempts < MAX_PROBE_ATTEMPTS) {
      this._probed.delete(kernel.id);
    }
  }

  private _target: IDeviceProfile | null = null;
  private _targetProblem: string | null = null;
  private _server: IDeviceProfile | null = null;
  private _kernels = new Map<string, IDeviceProfile>();
  private _probed = new Set<string>();
  private _attempts = new Map<string, number>();
  private _watched = new WeakSet<object>();
  private _probe: string | null = null;
  private _changed = new Signal<this, void>(this);
}
