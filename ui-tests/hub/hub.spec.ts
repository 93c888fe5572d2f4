import AxeBuilder from '@axe-core/playwright';
import { expect, Page, test } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

import { SCREENSHOTS } from '../tests/screenshots';

interface IClassState {
  instructor: string;
  students: string[];
  passwords: Record<string, string>;
}

/** The class hub writes its accounts' passwords once every student's server reports. */
async function classState(): Promise<IClassState> {
  const file = path.join(__dirname, 'class-hub-state.json');
  await expect
    .poll(() => fs.existsSync(file), { timeout: 150_000, message: 'the class hub started' })
    .toBe(true);
  return JSON.parse(fs.readFileSync(file, 'utf-8'));
}

async function signIn(page: Page, user: string, password: string): Promise<void> {
  await page.goto('/hub/login');
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(url => !url.pathname.endsWith('/hub/login'));
}

test('the instructor sees every student and shuts down an idle kernel', async ({ page }) => {
  const state = await classState();
  await signIn(page, state.instructor, state.passwords[state.instructor]);
  await page.goto('/services/gpuscope/');
  await expect(page.getByRole('heading', { name: 'Class GPU use', level: 1 })).toBeVisible();

  const students = page.getByRole('table', { name: /GPU memory each student holds/ });
  for (const student of state.students.slice(0, 2)) {
    const row = students.getByRole('row', { name: new RegExp(`^${student}\\b`) });
    await expect(row).toContainText('2.00 GiB', { timeout: 30_000 });
  }
  // Replayed readings are said to be so, never shown as a live GPU.
  await expect(page.getByText(/Not live GPU readings: .*replay/)).toBeVisible();
  await expect(page.getByRole('table', { name: /Each GPU and MIG instance/ })).toContainText(
    'node-a'
  );
  await expect(page.locator('#sizing')).toContainText(/fits \d of \d students/);

  await page.screenshot({ path: path.join(SCREENSHOTS, 'class-view.png'), fullPage: true });

  const axe = await new AxeBuilder({ page }).include('main').analyze();
  const serious = axe.violations.filter(v => ['serious', 'critical'].includes(v.impact ?? ''));
  expect(serious.map(v => `${v.id}: ${v.nodes[0]?.target}`)).toEqual([]);

  // Keyboard only: focus the button, Enter, then confirm in the dialog.
  const student = state.students[1];
  const shutDown = page.getByRole('button', { name: new RegExp(`^Shut down .* of ${student}$`) });
  await shutDown.first().focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Shut down kernel' });
  await expect(dialog).toContainText('Its variables are lost');
  await dialog.getByRole('button', { name: 'Shut down kernel' }).click();
  await expect(page.getByRole('status')).toHaveText(`Done: shut down a kernel of ${student}.`, {
    timeout: 30_000
  });
  await expect(page.locator('#log')).toContainText(
    `${state.instructor}: shut down a kernel of ${student}`
  );
  const row = students.getByRole('row', { name: new RegExp(`^${student}\\b`) });
  await expect(row).toContainText('0.00 GiB', { timeout: 40_000 });
});

test('a student cannot open the class view', async ({ page }) => {
  const state = await classState();
  const student = state.students[0];
  await signIn(page, student, state.passwords[student]);
  const response = await page.goto('/services/gpuscope/');
  expect(response?.status()).toBe(403);
  await expect(page.getByText(state.students[1])).toHaveCount(0);
});
