/**
 * Linting notebooks: which notebook (and so which kernel profile and imports) an editor
 * belongs to, per-cell caches so unchanged cells are not re-analysed, and the summary
 * shown in the notebook toolbar.
 */
import type { Cell, ICellModel } from '@jupyterlab/cells';
import type { CodeEditor } from '@jupyterlab/codeeditor';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import {
  analyze,
  collectDeviceNames,
  collectLiterals,
  IDeviceProfile,
  ILintFinding
} from '../core/lint/analyzer';
import { importLines } from '../core/lint/files';
import type { IDeviceProfiles } from '../tokens';

/** Beyond this size a cell is not analysed as you type (a 10 MB cell takes seconds). */
export const MAX_LIVE_CELL_CHARS = 1_000_000;

export interface ICellFinding {
  cellIndex: number;
  finding: ILintFinding;
}

export class NotebookLinter {
  constructor(
    private _tracker: INotebookTracker,
    private _profiles: IDeviceProfiles
  ) {}

  enabled = true;
  disabled = new Set<string>();

  /** Emitted with the panel whose summary may have changed. */
  get summaryChanged(): ISignal<this, NotebookPanel | null> {
    return this._summaryChanged;
  }

  profile(panel: NotebookPanel | null): IDeviceProfile | null {
    return this._profiles.profileFor(panel?.sessionContext ?? null);
  }

  /** Why the lint target in the settings cannot be used, or null. */
  targetProblem(): string | null {
    return this._profiles.targetProblem;
  }

  /** Whether the server's GPUs are a recording (then they never stand in for the kernel's). */
  serverIsRecording(): boolean {
    return this._profiles.serverProfile?.recorded === true;
  }

  /** Findings for one editor's text, or null when it is not a code cell of a notebook. */
  lintEditor(model: CodeEditor.IModel, text: string): ILintFinding[] | null {
    if (!this.enabled || text.length > MAX_LIVE_CELL_CHARS) {
      return null;
    }
    const panel = this._panelOf(model);
    if (!panel || !/python/.test(model.mimeType)) {
      return null;
    }
    const profile = this.profile(panel);
    if (!profile) {
      return null;
    }
    const findings = this._cellFindings(
      model as ICellModel,
      text,
      profile,
      this._imports(panel),
      this._deviceNames(panel),
      this._literals(panel)
    );
    this._summaryChanged.emit(panel);
    return findings;
  }

  /** Every finding of a notebook, cell by cell (cached per cell source and profile). */
  summary(panel: NotebookPanel): ICellFinding[] {
    const profile = this.profile(panel);
    if (!this.enabled || !profile) {
      return [];
    }
    const imports = this._imports(panel);
    const deviceNames = this._deviceNames(panel);
    const literals = this._literals(panel);
    const all: ICellFinding[] = [];
    panel.content.widgets.forEach((cell: Cell, cellIndex: number) => {
      if (cell.model.type !== 'code') {
        return;
      }
      const source = cell.model.sharedModel.getSource();
      if (source.length > MAX_LIVE_CELL_CHARS) {
        return;
      }
      const findings = this._cellFindings(
        cell.model,
        source,
        profile,
        imports,
        deviceNames,
        literals
      );
      all.push(...findings.map(finding => ({ cellIndex, finding })));
    });
    return all;
  }

  /**
   * One cell's findings, shared by the editor and the summary: a cell is analysed again
   * only when its source, the profile, the disabled rules or the notebook's imports change.
   */
  private _cellFindings(
    model: ICellModel,
    source: string,
    profile: IDeviceProfile,
    imports: Map<string, string>,
    deviceNames: Map<string, string | null>,
    literals: Map<string, string>
  ): ILintFinding[] {
    const key = JSON.stringify([
      profile,
      [...this.disabled],
      [...imports],
      [...deviceNames],
      [...literals]
    ]);
    const cached = this._results.get(model);
    if (cached && cached.source === source && cached.key === key) {
      return cached.findings;
    }
    const findings = analyze(source, profile, {
      imports,
      deviceNames,
      literals,
      disabled: this.disabled
    });
    this._results.set(model, { source, key, findings });
    return findings;
  }

  private _panelOf(model: CodeEditor.IModel): NotebookPanel | null {
    const cached = this._panels.get(model);
    if (cached && !cached.isDisposed) {
      return cached;
    }
    const panel =
      this._tracker.find(p => p.content.widgets.some(cell => cell.model === model)) ?? null;
    if (panel) {
      this._panels.set(model, panel);
    }
    return panel;
  }

  /**
   * The notebook's top-level device names (`device = "cuda"` in one cell, `.to(device)` in
   * another), every code cell's in order, each parsed again only when it changed.
   */
  private _deviceNames(panel: NotebookPanel): Map<string, string | null> {
    return this._merged(panel, this._nameCache, collectDeviceNames);
  }

  /** The notebook's top-level literal bindings (`BF16 = True`), every code cell's in order. */
  private _literals(panel: NotebookPanel): Map<string, string> {
    return this._merged(panel, this._literalCache, collectLiterals);
  }

  /** The notebook's imports: every code cell's, each cell parsed again only when it changed. */
  private _imports(panel: NotebookPanel): Map<string, string> {
    return this._merged(panel, this._importCache, importLines);
  }

  /** What every code cell of a notebook contributes, in order, later cells winning. */
  private _merged<V>(
    panel: NotebookPanel,
    cache: WeakMap<ICellModel, IPerCell<V>>,
    read: (source: string) => Map<string, V>
  ): Map<string, V> {
    const merged = new Map<string, V>();
    for (const cell of panel.content.widgets) {
      if (cell.model.type !== 'code') {
        continue;
      }
      const source = cell.model.sharedModel.getSource();
      let cached = cache.get(cell.model);
      if (!cached || cached.source !== source) {
        cached = { source, values: read(source) };
        cache.set(cell.model, cached);
      }
      cached.values.forEach((value, key) => merged.set(key, value));
    }
    return merged;
  }

  private _panels = new WeakMap<CodeEditor.IModel, NotebookPanel>();
  private _importCache = new WeakMap<ICellModel, IPerCell<string>>();
  private _nameCache = new WeakMap<ICellModel, IPerCell<string | null>>();
  private _literalCache = new WeakMap<ICellModel, IPerCell<string>>();
  private _results = new WeakMap<
    ICellModel,
    { source: string; key: string; findings: ILintFinding[] }
  >();
  private _summaryChanged = new Signal<this, NotebookPanel | null>(this);
}

/** A cell's source and what was read from it. */
interface IPerCell<V> {
  source: string;
  values: Map<string, V>;
}
