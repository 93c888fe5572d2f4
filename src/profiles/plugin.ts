import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';

import { IDeviceProfiles, IGPUScopeAPI } from '../tokens';
import { ProfileStore } from './store';

/**
 * Device profiles: what each notebook's kernel can use (a cheap silent probe at kernel
 * start) and what the server sees; the linter and the error explainer read them.
 */
export const profilesPlugin: JupyterFrontEndPlugin<IDeviceProfiles> = {
  id: 'jupyterlab-gpuscope:profiles',
  description: "Probes each notebook kernel's GPUs and torch build once per kernel start.",
  autoStart: true,
  requires: [IGPUScopeAPI, INotebookTracker],
  provides: IDeviceProfiles,
  activate: (
    app: JupyterFrontEnd,
    api: IGPUScopeAPI,
    notebooks: INotebookTracker
  ): IDeviceProfiles => {
    const profiles = new ProfileStore(api);
    // The server's GPUs, until a kernel says more (asked after startup, as every request).
    void app.restored
      .then(() => api.devices())
      .then(devices => {
        const first = devices.devices[0];
        profiles.setServerProfile(
          devices.status === 'ok' && first
            ? {
                source: devices.live ? 'server' : 'server (a recording)',
                hasGPU: true,
                cc: first.compute_capability,
                name: first.name,
                deviceCount: devices.devices.length,
                recorded: !devices.live
              }
            : {
                source: 'server',
                hasGPU: false,
                noGPUReason: devices.reason ?? 'the server sees no GPU',
                cc: null,
                name: null,
                deviceCount: 0
              }
        );
      })
      .catch(() => undefined);

    // Probe each notebook's kernel once it is ready (and again after a kernel change).
    notebooks.widgetAdded.connect((_, panel) => {
      const probe = () => {
        void panel.sessionContext.ready
          .then(() => profiles.probe(panel.sessionContext))
          .catch(() => undefined);
      };
      panel.sessionContext.kernelChanged.connect(probe);
      probe();
    });

    return profiles;
  }
};
