import type { Cell } from '@jupyterlab/cells';
import type { PanelLayout, Widget } from '@lumino/widgets';

/**
 * Put a widget in a cell right under its outputs (above the cell footer), once the cell
 * has rendered, unless by then it is no longer wanted. Not an output: never saved.
 */
export function addUnderOutputs(cell: Cell, widget: Widget, stillWanted: () => boolean): void {
  void cell.ready.then(() => {
    if (!stillWanted() || cell.isDisposed) {
      return;
    }
    const layout = cell.layout as PanelLayout;
    const wrapper = layout.widgets.findIndex(w => w.hasClass('jp-Cell-outputWrapper'));
    layout.insertWidget(wrapper >= 0 ? wrapper + 1 : layout.widgets.length, widget);
  });
}
