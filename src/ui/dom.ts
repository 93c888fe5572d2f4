/** A new element with a class, appended to a parent when one is given. */
export function element(tag: string, className: string, parent?: HTMLElement): HTMLElement {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  parent?.appendChild(node);
  return node;
}

/**
 * Set an element's text only when it differs: writing the same text still replaces the
 * text node, which costs the browser a layout and a paint of what holds it.
 */
export function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}

/** Set an attribute only when it differs (see setText). */
export function setAttr(node: HTMLElement, name: string, value: string): void {
  if (node.getAttribute(name) !== value) {
    node.setAttribute(name, value);
  }
}

/** Text with `code` spans, as DOM (never innerHTML: the text comes from data). */
export function withCode(parent: HTMLElement, text: string): void {
  text.split('`').forEach((part, i) => {
    if (i % 2) {
      element('code', '', parent).textContent = part;
    } else if (part) {
      parent.append(part);
    }
  });
}

/** JupyterLab's small styled button's classes (add jp-mod-warn and the like). */
export const SMALL_BUTTON = 'jp-Button jp-mod-styled jp-mod-small';

/** A button (never a form's submit) with its label, tooltip and action, appended to a parent. */
export function appendButton(
  parent: HTMLElement,
  className: string,
  label: string,
  title: string,
  onClick: () => unknown
): HTMLButtonElement {
  const node = element('button', className, parent) as HTMLButtonElement;
  node.type = 'button';
  node.textContent = label;
  node.title = title;
  node.addEventListener('click', () => void onClick());
  return node;
}

/** A table's caption (when given) and header row; returns its new, empty body. */
export function tableFrame(table: HTMLElement, headers: string[], caption?: string): HTMLElement {
  if (caption !== undefined) {
    element('caption', '', table).textContent = caption;
  }
  const head = element('tr', '', element('thead', '', table));
  for (const title of headers) {
    element('th', '', head).textContent = title;
  }
  return element('tbody', '', table);
}
