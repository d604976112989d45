/**
 * The ops team's path: Swagger UI in a real browser (Debian's Chromium, provisioned by the
 * e2e global setup (test/support/chromium.ts), driven by playwright-core). Runs an anonymous call through "Try it out", logs in through the UI,
 * authorizes with the token and runs an authenticated call. Screenshots go to test/artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app';
import { ADMIN } from '../support/api';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/chromium';

const artifacts = join(process.cwd(), 'test', 'artifacts');

async function execute(page: Page, opId: string): Promise<{ status: string; body: string }> {
  const op = page.locator(`#${opId}`);
  await op.locator('.opblock-summary').first().click();
  await op.getByRole('button', { name: 'Try it out' }).click();
  return { status: '', body: await op.locator('.opblock-body').innerText() };
}

async function run(page: Page, opId: string): Promise<{ status: string; body: string }> {
  const op = page.locator(`#${opId}`);
  await op.getByRole('button', { name: 'Execute' }).click();
  const row = op.locator('.live-responses-table .response').first();
  await row.waitFor({ timeout: 15_000 });
  return {
    status: (await row.locator('.response-col_status').innerText()).trim(),
    body: await row.locator('.response-col_description').innerText(),
  };
}

describe('Swagger UI in a browser', () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    const problem = inject('chromiumProblem');
    if (problem) throw new Error(problem);
    mkdirSync(artifacts, { recursive: true });
    t = await createTestApp();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('executes an anonymous call, logs in, authorizes and executes an authorized call', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) errors.push(m.text());
    });
    await page.goto(`${t.url}/docs`);
    await page.locator('.swagger-ui .information-container').waitFor({ timeout: 20_000 });

    await execute(page, 'operations-health-Health_live');
    const live = await run(page, 'operations-health-Health_live');
    expect(live.status).toBe('200');
    expect(live.body).toContain('"status": "ok"');
    await page.screenshot({ path: join(artifacts, 'swagger-try-it-out.png') });

    await execute(page, 'operations-auth-Auth_login');
    await page.locator('#operations-auth-Auth_login textarea.body-param__text').fill(JSON.stringify(ADMIN));
    const loginRes = await run(page, 'operations-auth-Auth_login');
    expect(loginRes.status).toBe('200');
    const token = /"accessToken": "([^"]+)"/.exec(loginRes.body)?.[1];
    expect(token).toBeTruthy();

    await page.locator('.auth-wrapper .authorize').click();
    await page.locator('.modal-ux input[type="text"]').fill(token!);
    await page.locator('.modal-ux .auth-btn-wrapper .authorize').click();
    await page.locator('.modal-ux .btn-done').click();

    await execute(page, 'operations-auth-Auth_me');
    const me = await run(page, 'operations-auth-Auth_me');
    expect(me.status).toBe('200');
    expect(me.body).toContain(`"loginId": "${ADMIN.loginId}"`);
    await page.screenshot({ path: join(artifacts, 'swagger-authorized-call.png'), fullPage: false });
    expect(errors).toEqual([]);
  }, 90_000);
});
