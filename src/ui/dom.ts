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
