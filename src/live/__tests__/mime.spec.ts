import { MimeModel } from '@jupyterlab/rendermime';

import { CommandIDs } from '../../tokens';
import { type ILiveState, LIVE_MIME, liveRenderer } from '../mime';

const GiB = 2 ** 30;

function state(overrides: Partial<ILiveState> = {}): ILiveState {
  return {
    at: 1_800_000_000,
    which: 'the GPUs this kernel uses',
    devices: [
      {
        index: 0,
        name: 'NVIDIA H100 80GB HBM3',
        memory_total: 80 * GiB,
        memory_used: 8.5 * GiB,
        this_kernel: 3 * GiB,
        others: 5 * GiB,
        util_gpu: 40
      }
    ],
    reason: null,
    ...overrides
  };
}

async function render(data: ILiveState): Promise<HTMLElement> {
  const renderer = liveRenderer.rendererFactory.createRenderer({
    mimeType: LIVE_MIME,
    sanitizer: { sanitize: (html: string) => html },
    resolver: null,
    linkHandler: null,
    latexTypesetter: null
  } as any);
  await renderer.renderModel(new MimeModel({ data: { [LIVE_MIME]: data as any } }));
  return renderer.node;
}

describe('the live view in JupyterLab', () => {
  it('shows the kernel view in a line per GPU and offers the GPU Monitor instead of a second monitor', async () => {
    const node = await render(state());
    expect(node.textContent).toContain(
      'GPU 0 NVIDIA H100 80GB HBM3: 8.5/80 GiB in use (this kernel 3.0 GiB), utilisation 40 %'
    );
    expect(node.textContent).toContain('The GPU Monitor shows the same, live, and more.');
    const button = node.querySelector('button')!;
    expect(button.textContent).toBe('Open GPU Monitor');
    expect(button.dataset.commandlinkerCommand).toBe(CommandIDs.openPanel);
  });

  it('says when the view stopped, and why there is nothing to show', async () => {
    expect((await render(state({ stopped: true }))).textContent).toContain('Stopped.');
    const none = await render(
      state({ devices: [], reason: 'no NVIDIA driver is visible to this kernel' })
    );
    expect(none.textContent).toContain(
      'GPU live view: no NVIDIA driver is visible to this kernel.'
    );
  });

  it('says so when the output is not a state it knows', async () => {
    const node = await render({ version: 2 } as unknown as ILiveState);
    expect(node.textContent).toBe('This GPU live view was made by another version of gpuscope.');
  });
});
