/**
 * MIG instances: which one a kernel runs on, and how one is named, for the status bar and
 * the panel alike.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IDevice, IGPUSample, IMigInstance, IMigSample, IProcessesReply } from '../api';

export interface IInstanceInView {
  gpu: IGPUSample;
  device: IDevice;
  instance: IMigInstance;
  reading: IMigSample | null;
}

/**
 * The MIG instance a kernel uses: the one its profile resolved from CUDA_VISIBLE_DEVICES
 * (`migUuid`, by CUDA's own rules in core/knowledge), else the instance its GPU process
 * runs on.
 */
export function kernelInstance(
  devices: IDevice[],
  gpus: IGPUSample[],
  migUuid: string | null,
  processes: IProcessesReply | null,
  kernelId: string | null
): IInstanceInView | null {
  const find = (match: (device: IDevice, instance: IMigInstance) => boolean) => {
    for (const device of devices) {
      const instance = (device.mig_instances ?? []).find(i => match(device, i));
      const gpu = gpus.find(g => g.index === device.index);
      if (instance && gpu) {
        const reading = (gpu.mig ?? []).find(m => m.uuid === instance.uuid) ?? null;
        return { gpu, device, instance, reading };
      }
    }
    return null;
  };
  if (migUuid) {
    return find((_, instance) => instance.uuid === migUuid);
  }
  if (!kernelId || !processes) {
    return null;
  }
  for (const gpu of processes.gpus) {
    const proc = gpu.processes.find(
      p => p.kernel?.id === kernelId && typeof p.gpu_instance_id === 'number'
    );
    if (proc) {
      return find(
        (device, instance) =>
          device.index === gpu.index && instance.gpu_instance_id === proc.gpu_instance_id
      );
    }
  }
  return null;
}

/** "MIG 3g.71gb (GPU instance 2, compute instance 0)". */
export function instanceName(instance: IMigInstance, trans: TranslationBundle): string {
  return trans.__(
    'MIG %1 (GPU instance %2, compute instance %3)',
    instance.profile ?? instance.name ?? trans.__('instance'),
    instance.gpu_instance_id ?? '?',
    instance.compute_instance_id ?? '?'
  );
}
