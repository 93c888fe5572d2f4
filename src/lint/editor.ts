/**
 * The linter in cell editors: a CodeMirror 6 extension (@codemirror/lint). CodeMirror
 * re-lints only the editor whose document changed; a profile or settings change
 * dispatches a refresh effect to every editor (the jupyterlab-lsp way).
 */
import { Diagnostic, forceLinting, linter } from '@codemirror/lint';
import { Extension, StateEffect } from '@codemirror/state';
import { EditorView, ViewPlugin } from '@codemirror/view';

import type { ILintFinding } from '../core/lint/analyzer';

const refresh = StateEffect.define<null>();
const views = new Set<EditorView>();

/** Re-lint every open editor (the profile or the settings changed). */
export function refreshAllEditors(): void {
  for (const view of views) {
    view.dispatch({ effects: refresh.of(null) });
    forceLinting(view);
  }
}

/** The editor extension; `lint` returns the findings for a document's text. */
export function capabilityLinter(lint: (text: string) => ILintFinding[] | null): Extension {
  return [
    ViewPlugin.define(view => {
      views.add(view);
      return { destroy: () => views.delete(view) };
    }),
    linter(
      view => {
        const findings = lint(view.state.doc.toString()) ?? [];
        const length = view.state.doc.length;
        return findings.map((f): Diagnostic => ({
          from: Math.min(f.from, length),
          to: Math.min(f.to, length),
          severity: f.severity,
          source: `gpuscope (${f.rule})`,
          message: `${f.message}\nFix: ${f.fix.replace(/`/g, '')}`
        }));
      },
      {
        delay: 300,
        needsRefresh: update => update.transactions.some(tr => tr.effects.some(e => e.is(refresh)))
      }
    )
  ];
}
