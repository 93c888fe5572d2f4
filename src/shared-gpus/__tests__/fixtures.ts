import { GiB } from '../../__tests__/fakes';
import type { IGPUShare, ISharedGPUsReply } from '../../api';

export const NOW = 1_800_000_000;

export function share(overrides: Partial<IGPUShare> = {}): IGPUShare {
  return {
    index: 0,
    mine: 0,
    others: 0,
    others_count: 0,
    memory_total: 80 * GiB,
    outside: null,
    outside_reason: null,
    limit: null,
    state: 'ok',
    instances: [],
    ...overrides
  };
}

export function sharedGPUsReply(overrides: Partial<ISharedGPUsReply> = {}): ISharedGPUsReply {
  return {
    backend: 'nvml',
    live: true,
    source: null,
    status: 'ok',
    reason: null,
    run_id: 'run1',
    interval_seconds: 1,
    checked_at: NOW,
    gpus: [share()],
    kernels: [],
    idle: [],
    shut_down: [],
    notices: [],
    policy: {
      user_memory_limit_bytes: null,
      user_memory_limit_fraction: null,
      user_memory_warn_fraction: 0.9,
      idle_kernel_minutes: 30,
      idle_kernel_shutdown_minutes: null,
      check_seconds: 5,
      memory_warning_percent: null,
      memory_critical_percent: null,
      lint_target: null,
      lint_target_torch: null,
      show_other_users: false
    },
    ...overrides
  } as ISharedGPUsReply;
}
