import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { GPUScopeAPI } from '../api';
import { IGPUScopeAPI, TRANSLATION_DOMAIN } from '../tokens';

/**
 * Provides the API client and checks once that the server extension answers.
 */
export const serverPlugin: JupyterFrontEndPlugin<IGPUScopeAPI> = {
  id: 'jupyterlab-gpuscope:api',
  description: 'Connects to the gpuscope server extension.',
  autoStart: true,
  provides: IGPUScopeAPI,
  optional: [ITranslator],
  activate: (app: JupyterFrontEnd, translator: ITranslator | null): IGPUScopeAPI => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const api = new GPUScopeAPI(app.serviceManager.serverSettings);
    // gpuscope's requests wait until JupyterLab has restored its layout: sent earlier, they
    // queue at the server with JupyterLab's own and make its startup slower.
    void app.restored.then(() =>
      api.devices().catch(reason => {
        Notification.error(
          trans.__(
            'GPU Monitor: the gpuscope server extension did not answer (%1). Is it installed and enabled?',
            String(reason?.message ?? reason)
          ),
          { autoClose: false }
        );
      })
    );
    return api;
  }
};
