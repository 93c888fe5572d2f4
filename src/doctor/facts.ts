/**
 * The facts document the collector (python/jupyterlab_gpuscope/diagnose.py) produces:
 * the contract between the kernel side and the doctor. Schema "gpuscope.facts/1".
 */
export const FACTS_SCHEMA = 'gpuscope.facts/1';

export interface IDriverDevice {
  index: number;
  name: string | null;
  uuid: string | null;
  cc: string | null;
  memory_total: number | null;
  mig_mode: { current: boolean; pending: boolean } | null;
}

export interface ISmokeTest {
  device: number;
  ok: boolean;
  max_error: number | null;
  ms: number | null;
  error: string | null;
  tf32?: boolean;
}

export interface ITorchFacts {
  version: string;
  cuda: string | null;
  hip: string | null;
  cuda_built: boolean;
  cudnn: number | string | null;
  nccl: string | null;
  cuda_available: boolean;
  init_error: string | null;
  device_count: number;
  arch_list: string[];
  devices: {
    index: number;
    name: string;
    cc: string;
    memory_total: number;
    multiprocessors: number;
  }[];
  bf16_supported: boolean | string | null;
  bf16_native: boolean | null;
  tf32: { matmul: boolean; cudnn: boolean };
  sdpa: { flash: boolean; mem_efficient: boolean; math: boolean; cudnn: boolean | null };
  peer_access: [number, number, boolean][];
  smoke: ISmokeTest[];
}

export interface IFacts {
  schema: string;
  collected_at: string;
  duration_s: number;
  python: { version: string; executable: string };
  platform: { system: string; machine: string; release: string };
  env: Record<string, string | null>;
  container: { dockerenv: boolean; dev_nvidia: string[] };
  driver: {
    available: boolean;
    error: string | null;
    version: string | null;
    cuda_version: string | null;
    devices: IDriverDevice[];
  } | null;
  torch: ITorchFacts | null;
  others: { jax: string | null; cupy: string | null };
  errors: Record<string, string>;
  timeouts: string[];
}

/** Why a document is not facts the doctor can read, or null when it is. */
export function factsProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'the facts must be a JSON object';
  }
  const schema = (value as { schema?: unknown }).schema;
  if (schema !== FACTS_SCHEMA) {
    return `unknown facts schema ${JSON.stringify(schema)} (expected "${FACTS_SCHEMA}")`;
  }
  for (const key of ['env', 'container', 'timeouts']) {
    if (!(key in (value as object))) {
      return `the facts lack "${key}"`;
    }
  }
  return null;
}
