import AxeBuilder from '@axe-core/playwright';
import { expect } from '@jupyterlab/galata';

/** Run a command without waiting for it: one that opens a dialog resolves only when it closes. */
export const run = (page: any, command: string) =>
  page.evaluate((id: string) => {
    void (window as any).jupyterapp.commands.execute(id);
  }, command);

/** Open the GPU Monitor (its command) and return it once it shows. */
export async function openPanel(page: any) {
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('gpuscope:open-panel'));
  const panel = page.locator('#jp-gpuscope-panel');
  await expect(panel).toBeVisible();
  return panel;
}

/** axe-core's serious and critical violations inside the given parts of the page. */
export async function seriousViolations(
  page: any,
  selectors: string[],
  contrastChecked = true
): Promise<string[]> {
  // Galata's page is a proxy: axe drives the real page behind it.
  let builder = new AxeBuilder({ page: page.context().pages()[0] });
  for (const selector of selectors) {
    builder = builder.include(selector);
  }
  const { violations, passes, incomplete } = await builder.analyze();
  if (
    contrastChecked &&
    !passes.some(rule => rule.id === 'color-contrast' && rule.nodes.length > 0)
  ) {
    throw new Error(
      `axe checked no text contrast in ${selectors.join(', ')}: ${JSON.stringify(
        incomplete.map(r => [r.id, r.nodes.map(n => n.target.join(' '))])
      )}`
    );
  }
  return violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`);
}

/**
 * WCAG contrast of an element's text against the first opaque background behind it, from
 * the computed colours (rgb() or, for color-mix(), color(srgb ...)).
 */
export async function textContrast(locator: any): Promise<number> {
  return locator.evaluate((node: Element) => {
    const channels = (css: string): number[] => {
      const srgb = css.match(/color\(srgb ([\d.]+) ([\d.]+) ([\d.]+)(?: \/ ([\d.]+))?\)/);
      if (srgb) {
        return [
          +srgb[1] * 255,
          +srgb[2] * 255,
          +srgb[3] * 255,
          srgb[4] === undefined ? 1 : +srgb[4]
        ];
      }
      const [r, g, b, a] = (css.match(/[\d.]+/g) ?? ['0', '0', '0', '0']).map(Number);
      return [r, g, b, a === undefined ? 1 : a];
    };
    const luminance = ([r, g, b]: number[]) => {
      const linear = (c: number) => {
        const v = c / 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    };
    const text = channels(getComputedStyle(node).color);
    let element: Element | null = node;
    let background = [255, 255, 255, 0];
    while (element && background[3] < 1) {
      background = channels(getComputedStyle(element).backgroundColor);
      element = element.parentElement;
    }
    const [lighter, darker] = [luminance(text), luminance(background)].sort((a, b) => b - a);
    return (lighter + 0.05) / (darker + 0.05);
  });
}

/** Set a cell's source through its model: long code is not typed key by key. */
export async function setSource(page: any, index: number, source: string): Promise<void> {
  await page.evaluate(
    ([i, text]: [number, string]) =>
      (window as any).jupyterapp.shell.currentWidget.content.widgets[i].model.sharedModel.setSource(
        text
      ),
    [index, source]
  );
}
