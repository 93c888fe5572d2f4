import { element } from './dom';

/** A source as a report or an explanation carries it; reports saved by earlier builds
 * carry only `text` (the knowledge base's note). */
export interface ISourceLike {
  title?: string;
  url?: string | null;
  text?: string;
}

/**
 * One list item per source: its title, as a link where it has a public page. Report
 * documents come from kernel output, which a notebook's author controls: only http(s)
 * addresses become links.
 */
export function appendSources(list: HTMLElement, sources: readonly ISourceLike[]): void {
  for (const source of sources) {
    const title = source.title ?? source.text;
    if (typeof title !== 'string') {
      continue;
    }
    const item = element('li', '', list);
    const url =
      typeof source.url === 'string' && /^https?:\/\//i.test(source.url) ? source.url : null;
    if (url) {
      const link = element('a', '', item) as HTMLAnchorElement;
      link.href = url;
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      link.textContent = title;
    } else {
      item.textContent = title;
    }
  }
}

/** The sources worth listing: those with a title (or an older report's text). */
export function listedSources(sources: unknown): ISourceLike[] {
  return Array.isArray(sources)
    ? sources.filter(
        (s): s is ISourceLike => !!s && (typeof s.title === 'string' || typeof s.text === 'string')
      )
    : [];
}
