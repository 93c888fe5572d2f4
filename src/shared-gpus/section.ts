import type { TranslationBundle } from '@jupyterlab/translation';

import { element } from '../ui/dom';
import type { ISharedGPUsReply } from '../api';
import type { INudgeActions } from './nudges';
import { formatMemory } from '../core/memory';
import { formatDuration, outsideLine, usageLine, worthALine } from './text';
import type { MemoryUnits } from '../tokens';

/**
 * "Your GPU memory" in the GPU panel: per GPU, this user's memory against the limit and
 * the others' total; idle kernels that hold memory, with Keep and Shut down; the
 * admin's policy in words.
 */
export class UsageSection {
  readonly node = element('section', 'jp-gpuscope-Usage');

  constructor(
    private _actions: INudgeActions & { openNotebook(path: string): void },
    private _trans: TranslationBundle
  ) {
    this.node.hidden = true;
  }

  update(usage: ISharedGPUsReply | null, units: MemoryUnits): void {
    const trans = this._trans;
    this.node.hidden = !usage || usage.gpus.length === 0;
    if (!usage || this.node.hidden) {
      return;
    }
    const title = element('div', 'jp-gpuscope-Usage-title');
    title.textContent = usage.live
      ? trans.__('Your GPU memory')
      : trans.__('Your GPU memory (replay readings)');
    const rows = element('ul', 'jp-gpuscope-Usage-gpus');
    const telling = usage.gpus.filter(worthALine);
    if (!telling.length) {
      element('li', 'jp-gpuscope-Usage-gpu jp-mod-ok', rows).textContent =
        trans.__('You hold no GPU memory.');
    }
    for (const gpu of telling) {
      const row = element('li', `jp-gpuscope-Usage-gpu jp-mod-${gpu.state}`, rows);
      row.textContent = usageLine(gpu, units, trans);
      const outside = outsideLine(gpu, units, trans);
      if (outside) {
        element('div', 'jp-gpuscope-Usage-outside', row).textContent = outside;
      }
      if (gpu.limit !== null) {
        const bar = element('div', 'jp-gpuscope-Usage-bar', row);
        const fill = element('div', 'jp-gpuscope-Usage-barFill', bar);
        fill.style.width = `${Math.min(100, (100 * gpu.mine) / gpu.limit)}%`;
        bar.setAttribute('role', 'meter');
        bar.setAttribute('aria-valuemin', '0');
        bar.setAttribute('aria-valuemax', String(gpu.limit));
        bar.setAttribute('aria-valuenow', String(gpu.mine));
        bar.setAttribute('aria-label', trans.__('GPU %1 memory against your limit', gpu.index));
      }
    }
    const children: HTMLElement[] = [title, rows];
    if (usage.idle.length) {
      const list = element('ul', 'jp-gpuscope-Usage-idle');
      for (const idle of usage.idle) {
        const item = element('li', '', list);
        const open = element('button', 'jp-gpuscope-ProcessTable-open', item) as HTMLButtonElement;
        open.type = 'button';
        open.textContent = idle.notebook_path ?? idle.kernel_id;
        open.disabled = !idle.notebook_path;
        open.addEventListener(
          'click',
          () => idle.notebook_path && this._actions.openNotebook(idle.notebook_path)
        );
        element('span', '', item).textContent = trans.__(
          ' idle %1, holds %2',
          formatDuration(usage.checked_at - idle.idle_since, trans),
          formatMemory(idle.used_memory, units)
        );
        this._button(item, trans.__('Keep'), () => this._actions.keep(idle.kernel_id));
        this._button(item, trans.__('Shut down kernel'), () =>
          this._actions.shutDown(idle.kernel_id)
        );
      }
      const heading = element('div', 'jp-gpuscope-Usage-title');
      heading.textContent = trans.__('Idle kernels holding GPU memory');
      children.push(heading, list);
    }
    const policy = this._policyText(usage);
    if (policy) {
      const note = element('p', 'jp-gpuscope-Usage-policy');
      note.textContent = policy;
      children.push(note);
    }
    // The poll brings the same picture most of the time: replacing it anyway would cost a
    // layout and drop the keyboard focus of someone tabbing to Keep.
    const key =
      children.map(child => child.outerHTML).join('') +
      usage.idle.map(idle => idle.kernel_id).join();
    if (key !== this._shown) {
      this._shown = key;
      this.node.replaceChildren(...children);
    }
  }

  private _shown = '';

  private _policyText(usage: ISharedGPUsReply): string {
    const { policy } = usage;
    const trans = this._trans;
    const parts: string[] = [];
    if (policy.idle_kernel_minutes !== null) {
      parts.push(
        policy.idle_kernel_shutdown_minutes !== null
          ? trans.__(
              'Kernels idle for %1 min that hold GPU memory are shut down %2 min after you are notified, unless you keep them.',
              policy.idle_kernel_minutes,
              policy.idle_kernel_shutdown_minutes
            )
          : trans.__(
              'You are notified when a kernel idle for %1 min holds GPU memory.',
              policy.idle_kernel_minutes
            )
      );
    }
    if (!policy.show_other_users) {
      parts.push(trans.__("Other users' processes are shown only as totals."));
    }
    return parts.join(' ');
  }

  private _button(parent: HTMLElement, label: string, action: () => Promise<void>): void {
    const button = element(
      'button',
      'jp-gpuscope-Usage-action jp-mod-styled',
      parent
    ) as HTMLButtonElement;
    button.type = 'button';
    button.textContent = label;
    button.addEventListener('click', () => {
      button.disabled = true;
      void action().finally(() => (button.disabled = false));
    });
  }
}
