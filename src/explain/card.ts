/**
 * The explanation card under a failing cell's output: cause, what the kernel's facts say,
 * the fix with commands to copy, and for out-of-memory errors who holds the GPU's memory.
 * It is a widget beside the outputs, not an output: the saved notebook never changes
 * unless the user asks ("Add to notebook").
 */
import { Clipboard } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { IProcessesReply } from '../api';
import { holdersFor, IHolders } from './holders';
import type { IExplanation } from '../core/explain/matcher';
import type { MemoryUnits } from '../core/memory';
import { appendButton, element, SMALL_BUTTON, withCode } from '../ui/dom';
import { appendSources } from '../ui/sources';
import { appendProcessTable } from '../ui/processTable';

export interface IExplainCardOptions {
  explanations: IExplanation[];
  trans: TranslationBundle;
  /** The kernel whose cell failed, to find its GPU and not offer to shut it down. */
  kernelId: string | null;
  dismiss(): void;
  addNote(): void;
  /** The server's process list (OOM only). */
  processes(): Promise<IProcessesReply>;
  /** The monitor's memory units setting, for the process list. */
  units(): MemoryUnits;
  /** Draws what in the failing kernel holds GPU memory (the memory X-ray), when there is one. */
  kernelMemory?(host: HTMLElement): Promise<void>;
  openNotebook(path: string): void;
  /** Resolves true when the kernel was shut down. */
  shutDownKernel(kernelId: string, path: string | null): Promise<boolean>;
}

export class ExplainCard extends Widget {
  constructor(private _options: IExplainCardOptions) {
    super();
    const trans = _options.trans;
    this.addClass('jp-gpuscope-Explain');
    this.node.setAttribute('role', 'note');
    this.node.setAttribute('aria-label', trans.__('GPU error explanation'));
    for (const explanation of _options.explanations) {
      this.node.appendChild(this._item(explanation));
    }
    const actions = element('div', 'jp-gpuscope-Explain-actions', this.node);
    appendButton(
      actions,
      `${SMALL_BUTTON} jp-gpuscope-Explain-addNote`,
      trans.__('Add to notebook'),
      trans.__('Insert this explanation as a Markdown cell below'),
      () => _options.addNote()
    );
    appendButton(
      actions,
      `${SMALL_BUTTON} jp-gpuscope-Explain-dismiss`,
      trans.__('Dismiss'),
      trans.__('Hide this explanation'),
      () => _options.dismiss()
    );
  }

  get explanations(): IExplanation[] {
    return this._options.explanations;
  }

  private _item(e: IExplanation): HTMLElement {
    const trans = this._options.trans;
    const item = element('section', `jp-gpuscope-Explain-item jp-mod-${e.severity}`);
    item.dataset.signature = e.id;
    const title = element('div', 'jp-gpuscope-Explain-title', item);
    title.textContent = e.title;
    if (e.may) {
      const may = element('span', 'jp-gpuscope-Explain-may', title);
      may.textContent = trans.__('may not apply');
      may.title = trans.__('This explanation rests on unconfirmed reports.');
    }
    withCode(element('p', 'jp-gpuscope-Explain-cause', item), e.cause);
    if (e.detail) {
      const detail = element('p', 'jp-gpuscope-Explain-detail', item);
      detail.append(trans.__('The message says: '));
      element('code', '', detail).textContent = e.detail;
    }
    if (e.context.facts.length) {
      const facts = element('ul', 'jp-gpuscope-Explain-facts', item);
      facts.setAttribute('aria-label', trans.__('What gpuscope knows about this kernel'));
      for (const fact of e.context.facts) {
        element('li', '', facts).textContent = fact;
      }
    }
    const fix = element('p', 'jp-gpuscope-Explain-fix', item);
    element('strong', '', fix).textContent = trans.__('Fix:');
    fix.append(' ');
    withCode(fix, e.fix);
    if (e.context.commands.length) {
      const box = element('div', 'jp-gpuscope-Explain-commands', item);
      const commands = e.context.commands.join('\n');
      element('pre', '', box).textContent = commands;
      appendButton(box, SMALL_BUTTON, trans.__('Copy'), trans.__('Copy the commands'), () =>
        Clipboard.copyToSystem(commands)
      );
    }
    if (e.context.oom) {
      if (this._options.kernelMemory) {
        const inKernel = element('div', 'jp-gpuscope-Explain-kernelMemory', item);
        element('p', 'jp-gpuscope-Explain-holdersTitle', inKernel).textContent = trans.__(
          'What holds memory in this kernel:'
        );
        void this._options.kernelMemory(element('div', '', inKernel));
      }
      item.appendChild(this._holdersBox(e));
    }
    if (e.context.tips.length) {
      const tips = element('ul', 'jp-gpuscope-Explain-tips', item);
      for (const tip of e.context.tips) {
        withCode(element('li', '', tips), tip);
      }
    }
    if (e.sources.length) {
      const details = element('details', 'jp-gpuscope-Explain-sources', item);
      element('summary', '', details).textContent = trans.__('Sources (%1)', e.sources.length);
      appendSources(element('ul', '', details), e.sources);
    }
    return item;
  }

  /** "What holds memory on GPU N now": filled from the server, refreshed after a shutdown. */
  private _holdersBox(e: IExplanation): HTMLElement {
    const trans = this._options.trans;
    const box = element('div', 'jp-gpuscope-Explain-holders');
    const load = async () => {
      box.replaceChildren();
      element('p', 'jp-gpuscope-Explain-holdersTitle', box).textContent = trans.__(
        'Looking up what holds GPU memory…'
      );
      try {
        const reply = await this._options.processes();
        this._renderHolders(
          box,
          reply,
          holdersFor(reply, this._options.kernelId, e.context.oom?.gpu ?? null),
          load
        );
      } catch (error) {
        box.replaceChildren();
        element('p', 'jp-gpuscope-Explain-holdersTitle', box).textContent = trans.__(
          'Could not ask the server what holds GPU memory: %1',
          (error as Error).message
        );
      }
    };
    void load();
    return box;
  }

  private _renderHolders(
    box: HTMLElement,
    reply: IProcessesReply,
    holders: IHolders,
    reload: () => Promise<void>
  ): void {
    const trans = this._options.trans;
    box.replaceChildren();
    const title = element('p', 'jp-gpuscope-Explain-holdersTitle', box);
    title.textContent =
      holders.basis === 'all'
        ? trans.__('What holds GPU memory now:')
        : trans.__('What holds memory on GPU %1 now:', holders.gpus.join(', '));
    if (!reply.live) {
      const label = element('span', 'jp-gpuscope-Explain-recorded', title);
      label.textContent =
        reply.backend === 'replay'
          ? trans.__('recorded GPU (replay), not this machine')
          : trans.__('no live GPU readings');
    }
    if (holders.basis === 'message') {
      element('p', 'jp-gpuscope-Explain-note', box).textContent = trans.__(
        'GPU %1 as the kernel numbers it; with CUDA_VISIBLE_DEVICES set, the server may number it differently.',
        holders.gpus.join(', ')
      );
    }
    if (holders.unavailable) {
      element('p', 'jp-gpuscope-Explain-note', box).textContent = trans.__(
        'The server could not list the processes on this GPU (%1), so who holds its memory is unknown.',
        holders.unavailable
      );
    }
    if (!holders.processes.length && !holders.others.count && !holders.outside) {
      if (!holders.unavailable) {
        element('p', 'jp-gpuscope-Explain-note', box).textContent = trans.__(
          'The server sees no process holding memory there.'
        );
      }
      return;
    }
    appendProcessTable(box, holders, {
      trans,
      units: this._options.units(),
      openNotebook: path => this._options.openNotebook(path),
      failingKernelId: this._options.kernelId,
      // The failing kernel holds the work; a busy one is someone's running cell.
      canShutDown: kernel =>
        kernel.id !== this._options.kernelId && kernel.execution_state === 'idle',
      shutDownKernel: async kernel => {
        if (await this._options.shutDownKernel(kernel.id, kernel.notebook_path)) {
          await reload();
        }
      }
    });
  }
}
