/**
 * Watches notebook cells' outputs and puts an explanation card under every output that
 * shows a known GPU failure (an error, or a warning on stderr).
 */
import type { Cell, CodeCell } from '@jupyterlab/cells';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { addUnderOutputs } from '../ui/cells';
import { ExplainCard, IExplainCardOptions } from './card';
import type { IMemoryXRay } from '../tokens';
import type { IExplainFacts, IExplanation } from '../core/explain/matcher';
import { failureText } from '../core/explain/outputs';

type Matcher = typeof import('../core/explain/matcher');

/** Waiting after the last output change: a stream writes in many small pieces. */
const SETTLE_MS = 150;

export interface IExplainerOptions {
  tracker: INotebookTracker;
  facts(panel: NotebookPanel): IExplainFacts;
  card: Omit<
    IExplainCardOptions,
    'explanations' | 'kernelId' | 'dismiss' | 'addNote' | 'kernelMemory'
  >;
  /** The memory X-ray, for out-of-memory cards (absent when its plugin is off). */
  memory?: IMemoryXRay | null;
}

export class CellErrorExplainer {
  constructor(private _options: IExplainerOptions) {
    _options.tracker.widgetAdded.connect((_, panel) => this._watchNotebook(panel));
    _options.tracker.forEach(panel => this._watchNotebook(panel));
  }

  /** Off: every card goes; on: cells are checked again. */
  set enabled(value: boolean) {
    if (this._enabled === value) {
      return;
    }
    this._enabled = value;
    this.recheckAll();
  }

  /** Whether stderr warnings (not only errors) get a card. */
  set showWarnings(value: boolean) {
    if (this._showWarnings === value) {
      return;
    }
    this._showWarnings = value;
    this.recheckAll();
  }

  /** Explain the active cell again, even if its card was dismissed; what was found. */
  async explainActiveCell(): Promise<IExplanation[]> {
    const panel = this._options.tracker.currentWidget;
    const cell = panel?.content.activeCell;
    if (!panel || !cell || cell.model.type !== 'code') {
      return [];
    }
    await this._load();
    this._dismissed.delete(cell);
    return this._check(panel, cell as CodeCell, true);
  }

  /**
   * The matcher and its knowledge (a few dozen KiB), loaded when the first output shows a
   * failure rather than with JupyterLab: most sessions never need them.
   */
  private _load(): Promise<Matcher> {
    this._loading ??= import('../core/explain/matcher').then(matcher => {
      this._matcher = matcher;
      this.recheckAll();
      return matcher;
    });
    return this._loading;
  }

  private _watchNotebook(panel: NotebookPanel): void {
    const watchCells = () => {
      for (const cell of panel.content.widgets) {
        if (cell.model.type === 'code' && !this._watched.has(cell)) {
          this._watched.add(cell);
          cell.disposed.connect(() => {
            clearTimeout(this._pending.get(cell));
            this._pending.delete(cell);
            this._cards.delete(cell);
          });
          (cell as CodeCell).model.outputs.changed.connect(() =>
            this._schedule(panel, cell as CodeCell)
          );
          this._schedule(panel, cell as CodeCell); // outputs saved in the notebook
        }
      }
    };
    panel.content.model?.cells.changed.connect(watchCells);
    panel.content.modelChanged.connect(() => {
      panel.content.model?.cells.changed.connect(watchCells);
      watchCells();
    });
    watchCells();
    this._panels.add(panel);
    panel.disposed.connect(() => this._panels.delete(panel));
  }

  private _schedule(panel: NotebookPanel, cell: CodeCell): void {
    const pending = this._pending.get(cell);
    if (pending !== undefined) {
      clearTimeout(pending);
    }
    this._pending.set(
      cell,
      window.setTimeout(() => {
        this._pending.delete(cell);
        if (!cell.isDisposed) {
          this._check(panel, cell, false);
        }
      }, SETTLE_MS)
    );
  }

  /**
   * Check every code cell again (a card whose explanations are unchanged stays as it is):
   * after a setting changes, or when a kernel's probe answers after its cell failed.
   */
  recheckAll(): void {
    for (const panel of this._panels) {
      for (const cell of panel.content.widgets) {
        if (cell.model.type === 'code') {
          this._check(panel, cell as CodeCell, false);
        }
      }
    }
  }

  private _check(panel: NotebookPanel, cell: CodeCell, force: boolean): IExplanation[] {
    const text = failureText(cell.model.outputs.toJSON());
    const wanted = (this._enabled || force) && text !== '';
    if (wanted && !this._matcher) {
      void this._load(); // checks every cell again once loaded
      return [];
    }
    const found =
      wanted && this._matcher ? this._matcher.explainError(text, this._options.facts(panel)) : [];
    const shown = this._showWarnings || force ? found : found.filter(e => e.severity === 'error');
    if (!shown.length || (!force && this._dismissed.get(cell) === text)) {
      this._removeCard(cell);
      return shown;
    }
    this._dismissed.delete(cell);
    const previous = this._cards.get(cell);
    if (previous && JSON.stringify(previous.explanations) === JSON.stringify(shown)) {
      return shown;
    }
    this._removeCard(cell);
    const card = new ExplainCard({
      ...this._options.card,
      explanations: shown,
      kernelId: panel.sessionContext.session?.kernel?.id ?? null,
      kernelMemory: this._kernelMemory(panel),
      dismiss: () => {
        this._dismissed.set(cell, text);
        this._removeCard(cell);
      },
      addNote: () => this._addNote(panel, cell, shown)
    });
    this._cards.set(cell, card);
    addUnderOutputs(cell, card, () => this._cards.get(cell) === card);
    return shown;
  }

  private _kernelMemory(panel: NotebookPanel): IExplainCardOptions['kernelMemory'] {
    const kernel = panel.sessionContext.session?.kernel;
    const memory = this._options.memory;
    return kernel && memory ? host => memory.show(host, kernel) : undefined;
  }

  private _removeCard(cell: Cell): void {
    const card = this._cards.get(cell);
    if (card) {
      this._cards.delete(cell);
      card.dispose();
    }
  }

  /** The one change to the notebook, and only on request: a Markdown cell below. */
  private _addNote(panel: NotebookPanel, cell: CodeCell, explanations: IExplanation[]): void {
    const model = panel.content.model;
    const index = panel.content.widgets.indexOf(cell);
    if (!model || index < 0) {
      return;
    }
    model.sharedModel.insertCell(index + 1, {
      cell_type: 'markdown',
      source: explanations.map(e => this._matcher!.toMarkdown(e)).join('\n\n---\n\n')
    });
  }

  // Off until the plugin applies the settings (their defaults live in schema/explain.json).
  private _enabled = false;
  private _showWarnings = false;
  private _panels = new Set<NotebookPanel>();
  private _watched = new WeakSet<Cell>();
  private _pending = new Map<Cell, number>();
  private _cards = new Map<Cell, ExplainCard>();
  private _dismissed = new WeakMap<Cell, string>();
  private _matcher: Matcher | null = null;
  private _loading: Promise<Matcher> | null = null;
}
