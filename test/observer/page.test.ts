// The observer's page in real headless Chromium (Debian's, driven by playwright-core): it loads,
// shows the supervision tree, sees a crashed child restart without a reload, finds one entity
// among 10 000 and shows its state, and refuses actions without authorization. Screenshots go
// to test-artifacts/observer/.
import { mkdirSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildObserverPage } from '../../src/observer/page/build.mjs';
import { counter, type Setup, setup } from './support.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SHOTS = 'test-artifacts/observer';
const ENTITIES = 10_000;

let browser: Browser;
beforeAll(async () => {
  await buildObserverPage();
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 30_000);
afterAll(async () => {
  await browser?.close();
});

async function open(s: Setup, token: string | undefined): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${s.base}/observer/${token === undefined ? '' : `?token=${token}`}`);
  (page as Page & { errors: string[] }).errors = errors;
  return page;
}

const node = (child: string): string => `[data-testid=tree-node][data-child="${child}"]`;

describe('observer page in Chromium', () => {
  it('shows the tree, sees a crashed child restart without a reload, and finds an entity among 10 000', async () => {
    const s = await setup({ actions: true });
    // 10 000 active entities, each with one event.
    const asks: Promise<unknown>[] = [];
    for (let i = 0; i < ENTITIES; i++) asks.push(s.runtime.ref(counter, `c-${i}`).ask('add', { n: i }));
    await Promise.all(asks);
    expect(s.runtime.activeEntities).toBe(ENTITIES);

    const page = await open(s, 'viewer-token');
    await page.locator('[data-testid=connection]', { hasText: 'open' }).waitFor();
    await page.locator(node('worker-a')).waitFor();
    const firstId = await page.locator(node('worker-a')).getAttribute('data-id');
    expect(await page.locator(node('worker-a')).locator('[data-testid=restarts]').textContent()).toContain('↻0');
    // The entity type's supervisor shows 50 of its 10 000 children and counts the rest.
    await expect.poll(() => page.locator('.more').first().textContent()).toContain(`${ENTITIES - 50} more`);
    await page.screenshot({ path: `${SHOTS}/tree.png`, fullPage: false });

    // The test crashes the child; the page, not reloaded, shows the restart and the new instance.
    const w = s.system.whereis('worker-a');
    if (w === undefined) throw new Error('no worker-a');
    w.tell('crash');
    await s.system.awaitExit(w);
    await page.locator(node('worker-a')).locator('[data-testid=restarts]', { hasText: '↻1' }).waitFor();
    const secondId = await page.locator(node('worker-a')).getAttribute('data-id');
    expect(secondId).not.toBe(firstId);
    expect(Number(secondId)).toBe(s.system.whereis('worker-a')?.id);
    expect(await page.locator(node('worker-a')).locator('[data-testid=last-exit]').textContent()).toContain('crashed on purpose');
    await page.locator('[data-testid=restart-count]', { hasText: '1' }).waitFor();
    await page.screenshot({ path: `${SHOTS}/tree-after-restart.png` });

    // Find one entity among the 10 000 by id.
    await page.click('[data-tab=entities]');
    await page.locator('[data-testid=entity-types] td', { hasText: String(ENTITIES) }).first().waitFor();
    await page.fill('[data-testid=entity-id]', 'c-4242');
    await page.click('[data-testid=entity-find]');
    const state = page.locator('[data-testid=entity-state]');
    await state.waitFor();
    expect(JSON.parse((await state.textContent()) ?? '')).toEqual({ value: 4242 });
    expect(await page.locator('[data-testid=entity-seq]').textContent()).toBe('1');
    expect(await page.locator('[data-testid=entity-detail] ol li').first().textContent()).toContain('"n":4242');
    await page.screenshot({ path: `${SHOTS}/entity.png` });

    // An id that is not there is said so.
    await page.fill('[data-testid=entity-id]', 'no-such-cart');
    await page.click('[data-testid=entity-find]');
    await page.locator('[data-testid=entity-error]', { hasText: 'OBSERVER_NOT_FOUND' }).waitFor();

    // The process table: searched, paginated, sorted.
    await page.click('[data-tab=processes]');
    await page.fill('[data-testid=process-search]', 'entity:counter');
    await page.locator('[data-testid=process-total]', { hasText: `${ENTITIES} processes` }).waitFor();
    await page.locator('[data-testid=process-page]', { hasText: `page 1 of ${ENTITIES / 50}` }).waitFor();
    await page.click('[data-testid=next-page]');
    await page.locator('[data-testid=process-page]', { hasText: 'page 2 of' }).waitFor();
    expect(await page.locator('[data-testid=process-row]').count()).toBe(50);
    await page.fill('[data-testid=process-search]', 'worker-b');
    await page.locator('[data-testid=process-total]', { hasText: '1 processes' }).waitFor();
    await page.click('[data-testid=process-row]');
    await page.locator('[data-testid=process-detail]', { hasText: 'worker-b' }).waitFor();
    await page.screenshot({ path: `${SHOTS}/processes.png` });

    await page.click('[data-tab=charts]');
    await page.locator('.uplot').first().waitFor();
    await page.click('[data-tab=system]');
    await page.locator('[data-testid=journal-panel]', { hasText: String(ENTITIES) }).waitFor();
    await page.screenshot({ path: `${SHOTS}/journal-gateway.png` });
    expect((page as Page & { errors: string[] }).errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('refuses actions without authorization, and carries them out with it', async () => {
    const s = await setup({ actions: true });
    const viewer = await open(s, 'viewer-token');
    await viewer.locator(node('worker-b')).waitFor();
    const before = s.system.whereis('worker-b');
    await viewer.locator(node('worker-b')).locator('[data-testid=kill]').click();
    await viewer.locator('[data-testid=action-result]', { hasText: 'OBSERVER_FORBIDDEN' }).waitFor();
    expect(s.system.whereis('worker-b')).toBe(before);
    expect(before?.alive).toBe(true);
    await viewer.screenshot({ path: `${SHOTS}/action-refused.png` });

    const admin = await open(s, 'admin-token');
    await admin.locator(node('worker-b')).waitFor();
    await admin.locator(node('worker-b')).locator('[data-testid=kill]').click();
    await admin.locator('[data-testid=action-result]', { hasText: 'done' }).waitFor();
    expect(before?.alive).toBe(false);
    // Killed, then restarted by its supervisor: both pages see it.
    await admin.locator(node('worker-b')).locator('[data-testid=restarts]', { hasText: '↻1' }).waitFor();
    await viewer.locator(node('worker-b')).locator('[data-testid=restarts]', { hasText: '↻1' }).waitFor();
    await admin.screenshot({ path: `${SHOTS}/action-done.png` });
    await viewer.close();
    await admin.close();
  }, 30_000);

  it('a page without a token is refused its channel (the page says so) and sees nothing', async () => {
    const s = await setup();
    const page = await open(s, undefined);
    await page.locator('[data-testid=connection]', { hasText: 'refused' }).waitFor();
    expect(await page.locator('[data-testid=tree]').count()).toBe(0);
    expect(s.observer.connections).toBe(0);
    await page.screenshot({ path: `${SHOTS}/refused.png` });
    await page.close();
  }, 30_000);
});
