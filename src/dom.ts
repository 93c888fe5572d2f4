/** A new element with a class, appended to a parent when one is given. */
export function element(tag: string, className: string, parent?: HTMLElement): HTMLElement {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  parent?.appendChild(node);
  return node;
}
