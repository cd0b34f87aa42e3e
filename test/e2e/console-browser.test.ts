import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { period } from '../../catalog/periods.js';
import { Dec } from '../../core/money.js';
import { packageRoot } from '../../core/paths.js';
import { jsonRequest, testAggregator } from '../support/api.js';
import { type StripeBilling, startStripeBilling } from '../support/stripe-billing.js';

/**
 * The console in a real browser (Debian's Chromium, headless), against the API on the real
 * stores: sign in with the keyboard, watch events arrive in the live view, read a usage chart's
 * table against `GET /v1/usage`, open a customer and its upcoming invoice, void an invoice and
 * see it in the API, and never see another tenant's data. Nothing the page loads is refused by
 * its Content-Security-Policy, and nothing is fetched from elsewhere. Screenshots of every page,
 * on a laptop and on a phone, go to test-results/console/.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = path.join(packageRoot(), 'test-results', 'console');
const LAPTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);

let b: StripeBilling;
let other: { id: string; key: string; auth: Record<string, string> };
let browser: BrowserContext;
let profileDir: string;
let invoice: Record<string, any>;
let subscriptionId: string;
/** What the browser said about refused content, and every request that left the test server. */
const refusals: string[] = [];
const elsewhere: string[] = [];

const call = (method: string, p: string, body?: unknown) => b.call(method, p, body);
const dayIso = (offsetDays: number, hour = 12) => new Date(start.getTime() + offsetDays * DAY + hour * 3_600_000).toISOString();

async function newPage(viewport = LAPTOP): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewportSize(viewport);
  page.on('console', (m) => {
    if (/Content[- ]Security[- ]Policy|Refused to/i.test(m.text())) refusals.push(m.text());
  });
  page.on('request', (r) => {
    // blob: and data: are the page's own; chrome-extension: and chrome: are the browser's own PDF viewer showing the invoice.
    if (!/^(blob:|data:|chrome-extension:|chrome:)/.test(r.url()) && !r.url().startsWith(b.api.url)) elsewhere.push(r.url());
  });
  return page;
}

/** Signs in as a user would: focus is on the key field, type it, press Enter. */
async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(`${b.api.url}/console`);
  await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('api-key');
  await page.keyboard.type(key);
  await page.keyboard.press('Enter');
  await page.getByRole('navigation', { name: 'Console' }).waitFor();
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: this test drives Debian's Chromium package (apt-get install chromium), which .ci/run installs when it is missing`);
  }
  mkdirSync(SHOTS, { recursive: true });
  b = await startStripeBilling({ tenant: 'console', env: { TALLY_EVENT_MAX_AGE_SECONDS: String(200 * 86_400) } });
  await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum', group_by: ['region'] });
  await call('POST', '/v1/plans', {
    code: 'scale',
    name: 'Scale',
    currency: 'USD',
    interval: 'month',
    base_fee: '99.00',
    charges: [{ meter: 'api_calls', model: 'graduated', tiers: [{ up_to: '1000', unit_price: '0' }, { up_to: null, unit_price: '0.0125' }] }],
    features: [
      { key: 'sso', type: 'boolean' },
      { key: 'calls', name: 'API calls', type: 'metered', meter: 'api_calls', limit: '100000', hard: false },
    ],
  });
  await call('POST', '/v1/customers', { id: 'globex', name: 'Globex Corporation', email: 'ap@globex.example', currency: 'USD', collection_method: 'send_invoice', days_until_due: 30 });
  const sub = await call('POST', '/v1/subscriptions', { customer: 'globex', plan: 'scale', start_date: start.toISOString() });
  expect(sub.status, JSON.stringify(sub.body)).toBe(201);
  subscriptionId = sub.body.id as string;
  // The first period: 3,000 calls on day 3 (EU) and 1,500 on day 4 (US), closed into an invoice.
  const p0 = period(start, 'month', 0);
  const sent = await call('POST', '/v1/events', [
    { id: 'h1', customer: 'globex', meter: 'api_calls', value: '3000', timestamp: dayIso(3), properties: { region: 'eu' } },
    { id: 'h2', customer: 'globex', meter: 'api_calls', value: '1500', timestamp: dayIso(4), properties: { region: 'us' } },
  ]);
  expect(sent.body).toMatchObject({ accepted: 2 });
  await b.close(new Date(p0.end.getTime() + 2 * 3_600_000));
  await b.syncAndDeliver();
  invoice = (await b.invoicesOf('globex'))[0]!;
  expect(invoice.status).toBe('open');
  // The current period: usage the upcoming invoice bills.
  const current = period(start, 'month', 1);
  await call('POST', '/v1/events', { id: 'c1', customer: 'globex', meter: 'api_calls', value: '2500', timestamp: new Date(current.start.getTime() + 3_600_000).toISOString(), properties: { region: 'eu' } });
  await testAggregator(b.api).runOnce();

  // Another tenant, with a customer, an invoice's worth of events and a live event of its own.
  other = await b.api.tenant('console-other');
  const asOther = (method: string, p: string, body?: unknown) => jsonRequest(b.api.url, other.auth, method, p, body);
  await asOther('POST', '/v1/meters', { key: 'api_calls', name: 'Other calls', aggregation: 'sum' });
  await asOther('POST', '/v1/customers', { id: 'initech', name: 'Initech Secret Customer', currency: 'USD' });
  await asOther('POST', '/v1/events', { id: 'other_secret_evt', customer: 'initech', meter: 'api_calls', value: '7' });

  profileDir = mkdtempSync(path.join(os.tmpdir(), 'tally-chromium-'));
  browser = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: ARGS });
});
afterAll(async () => {
  await browser?.close();
  if (profileDir !== undefined) rmSync(profileDir, { recursive: true, force: true });
  await b?.stop();
});

describe('the console in Chromium', () => {
  it('signs in with the keyboard and keeps the key in the tab session only', async () => {
    const page = await newPage();
    await page.goto(`${b.api.url}/console`);
    await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('api-key');
    await shoot(page, 'sign-in');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    // A wrong key is refused with a message, and nothing else is shown.
    await page.keyboard.type('tly_wrong_key');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/not accepted/);
    await page.getByLabel('API key').fill('');
    await page.keyboard.type(b.tenant.key);
    await page.keyboard.press('Enter');
    await page.getByRole('navigation', { name: 'Console' }).waitFor();
    expect(await page.evaluate('JSON.stringify(Object.values(sessionStorage))')).toContain(b.tenant.key);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(page.url()).not.toContain(b.tenant.key);
    await page.close();
  });

  it('shows events sent through the API in the live view, with their results', async () => {
    const page = await newPage();
    await signIn(page, b.tenant.key);
    await page.goto(`${b.api.url}/console/#/events`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    const r = await call('POST', '/v1/events', [
      { id: 'live_ok', customer: 'walk_in', meter: 'api_calls', value: '5', properties: { region: 'eu' } },
      { id: 'live_bad', customer: 'walk_in', meter: 'api_calls', value: 'twelve' },
      { id: 'live_ok', customer: 'walk_in', meter: 'api_calls', value: '5', properties: { region: 'eu' } },
    ]);
    expect(r.body).toMatchObject({ accepted: 1, duplicates: 1 });
    const code = r.body.rejected[0].code as string;
    const row = (id: string, result: string) => page.locator(`[data-testid="live-events"] tr[data-event-id="${id}"][data-result="${result}"]`);
    await row('live_ok', 'accepted').waitFor({ timeout: 10_000 });
    await row('live_ok', 'duplicate').waitFor();
    await expect.poll(() => row('live_bad', 'rejected').textContent()).toContain(code);
    await expect.poll(() => page.locator(`[data-testid="rejections-by-code"] tr[data-code="${code}"]`).count()).toBe(1);
    // The other tenant's event, sent to the same node, is not in this tenant's view.
    expect(await page.locator('[data-event-id="other_secret_evt"]').count()).toBe(0);
    await shoot(page, 'live-events');
    await page.setViewportSize(PHONE);
    await shoot(page, 'live-events-phone');
    await page.close();
  });

  it("draws usage whose table holds exactly GET /v1/usage's figures", async () => {
    const page = await newPage();
    await signIn(page, b.tenant.key);
    await page.goto(`${b.api.url}/console/#/usage`);
    await page.getByLabel('Meter').selectOption('api_calls');
    await page.getByLabel('Window').selectOption('day');
    await page.getByLabel('Time zone').fill('UTC');
    await page.getByLabel('From', { exact: true }).fill(dayIso(0).slice(0, 10));
    await page.getByLabel('To', { exact: true }).fill(dayIso(6).slice(0, 10));
    await page.getByRole('checkbox', { name: 'region' }).check();
    // The page shows the first meter's last week at once; this waits for the answer to the query asked here.
    const answered = page.waitForResponse((res) => res.url().includes('/v1/usage?') && res.url().includes('group_by=region') && res.status() === 200);
    await page.getByRole('button', { name: 'Show usage' }).click();
    const asked = new URL((await answered).url());
    const shownRows = async () => {
      const shown: (string | null)[][] = [];
      for (const tr of await page.locator('[data-testid="usage-table"] tbody tr[data-window-start]').all()) {
        // allTextContents does not wait: a row of an earlier answer has no region cell.
        shown.push([await tr.getAttribute('data-window-start'), (await tr.locator('[data-group="region"]').allTextContents())[0] ?? null, (await tr.locator('[data-value]').allTextContents())[0] ?? null]);
      }
      return shown;
    };
    // The same query through the API, and the figures the events make by hand.
    const api = await call('GET', `/v1/usage${asked.search}`);
    const rows = api.body.data as { window_start: string; value: string; groups: Record<string, string> }[];
    await expect.poll(shownRows).toEqual(rows.map((r) => [r.window_start, r.groups.region, r.value]));
    expect(await shownRows()).toEqual([
      [new Date(start.getTime() + 3 * DAY).toISOString().replace('.000Z', 'Z'), 'eu', '3000'],
      [new Date(start.getTime() + 4 * DAY).toISOString().replace('.000Z', 'Z'), 'us', '1500'],
    ]);
    expect(asked.searchParams.get('tz')).toBe('UTC');
    expect(await page.locator('canvas').count()).toBeGreaterThan(0);
    await shoot(page, 'usage');
    // The query comes back with Back from another page, and with a reload.
    const figures = rows.map((r) => [r.window_start, r.groups.region, r.value]);
    await page.goto(`${b.api.url}/console/#/customers`);
    await page.getByRole('heading', { level: 1, name: 'Customers' }).waitFor();
    await page.goBack();
    await expect.poll(shownRows).toEqual(figures);
    expect(await page.getByRole('checkbox', { name: 'region' }).isChecked()).toBe(true);
    await page.reload();
    await expect.poll(shownRows).toEqual(figures);
    expect(await page.getByLabel('Time zone').inputValue()).toBe('UTC');
    await page.close();
  });

  it('opens a customer with its entitlements and upcoming invoice, as the API has them', async () => {
    const page = await newPage();
    await signIn(page, b.tenant.key);
    await page.goto(`${b.api.url}/console/#/customers`);
    await page.getByRole('link', { name: /Globex Corporation|globex/ }).first().click();
    const upcoming = page.locator(`[data-testid="upcoming-invoice"][data-subscription-id="${subscriptionId}"]`);
    await upcoming.waitFor();
    const api = (await call('GET', `/v1/subscriptions/${subscriptionId}/upcoming`)).body as { total: string; currency: string };
    const total = new Intl.NumberFormat('en-US', { style: 'currency', currency: api.currency }).format(api.total as `${number}`);
    // 99.00 base fee and 2,500 calls: 1,000 free, 1,500 at 0.0125 (18.75).
    expect(api.total).toBe('117.75');
    await expect.poll(() => upcoming.textContent()).toContain(total);
    const entitlement = (await call('GET', '/v1/customers/globex/entitlements')).body.data as { feature: string; usage: string }[];
    const calls = entitlement.find((e) => e.feature === 'calls')!;
    await expect.poll(() => page.locator('main').textContent()).toContain('sso');
    expect(new Dec(calls.usage).gte(2500)).toBe(true);
    await shoot(page, 'customer');
    await page.setViewportSize(PHONE);
    await shoot(page, 'customer-phone');
    await page.close();
  });

  it('voids an invoice after confirmation, and the API says it is void', async () => {
    const page = await newPage();
    await signIn(page, b.tenant.key);
    await page.goto(`${b.api.url}/console/#/invoices`);
    await page.getByLabel('Status').selectOption('open');
    const pdf = page.waitForResponse((res) => res.url().endsWith(`/v1/invoices/${invoice.id}/pdf`));
    await page.locator(`a[href$="/invoices/${invoice.id}"]`).first().click();
    // The document: the invoice's PDF, fetched with the key and shown from a blob: URL, also offered for download.
    const document = await pdf;
    expect(document.status()).toBe(200);
    expect(document.headers()['content-type']).toBe('application/pdf');
    const download = page.getByRole('link', { name: 'Download PDF' });
    await download.waitFor();
    expect(await download.getAttribute('href')).toMatch(/^blob:/);
    expect(await page.locator('[data-testid="invoice-document"] iframe').getAttribute('src')).toMatch(/^blob:/);
    const status = page.getByTestId('invoice-status');
    await expect.poll(() => status.getAttribute('data-status')).toBe('open');
    await expect.poll(() => page.getByTestId('invoice-total').textContent()).toBe(new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(invoice.total as `${number}`));
    await shoot(page, 'invoice');
    await page.getByRole('button', { name: 'Void', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await shoot(page, 'invoice-void-confirm');
    // Cancelling changes nothing.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await call('GET', `/v1/invoices/${invoice.id}`)).body.status).toBe('open');
    await page.getByRole('button', { name: 'Void', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Void invoice' }).click();
    await expect.poll(() => status.getAttribute('data-status')).toBe('void');
    expect((await call('GET', `/v1/invoices/${invoice.id}`)).body.status).toBe('void');
    // The Void button is gone with the open status: focus is on the notice saying what was done.
    await expect.poll(() => page.evaluate("document.activeElement?.getAttribute('role')")).toBe('status');
    await page.close();
  });

  it('an action refused because the invoice changed meanwhile shows why, and then the invoice as it is now', async () => {
    const charged = await call('POST', `/v1/subscriptions/${subscriptionId}/charges`, { amount: '25.00', description: 'Onboarding', invoice_now: true });
    const id = charged.body.invoice as string;
    const page = await newPage();
    await signIn(page, b.tenant.key);
    await page.goto(`${b.api.url}/console/#/invoices/${id}`);
    const status = page.getByTestId('invoice-status');
    await expect.poll(() => status.getAttribute('data-status')).toBe('open');
    // Someone else voids it.
    expect((await call('POST', `/v1/invoices/${id}/void`, { reason: 'duplicate' })).status).toBe(200);
    await page.getByRole('button', { name: 'Mark paid', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Mark invoice paid' }).click();
    await expect.poll(() => dialog.textContent()).toContain('TALLY_ERR_INVALID_TRANSITION');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => status.getAttribute('data-status')).toBe('void');
    expect(await page.getByRole('button', { name: 'Mark paid', exact: true }).count()).toBe(0);
    await page.close();
  });

  it("shows billing periods as the invoice's PDF does in any zone, and opens usage in a zone a half hour off UTC", async () => {
    const page = await newPage();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setTimezoneOverride', { timezoneId: 'America/Los_Angeles' });
    await signIn(page, b.tenant.key);
    await page.goto(`${b.api.url}/console/#/invoices/${invoice.id}`);
    await page.getByTestId('invoice-status').waitFor();
    const last = new Date(Date.parse(invoice.period_end as string) - 1);
    const days = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeZone: 'UTC' }).formatRange(new Date(invoice.period_start as string), last);
    // Intl puts thin or narrow spaces around the dash, differently in Node and in Chromium.
    const spaced = (t: string | null) => (t ?? '').replace(/\s+/g, ' ');
    await expect.poll(async () => spaced(await page.locator('main').textContent())).toContain(spaced(days));
    await cdp.send('Emulation.setTimezoneOverride', { timezoneId: 'Asia/Kolkata' });
    await page.goto(`${b.api.url}/console/#/usage`);
    await page.getByLabel('Time zone').waitFor();
    await page.reload();
    await expect.poll(() => page.getByLabel('Time zone').inputValue()).toBe('UTC');
    // Chromium's ICU names the zone by its older name, Asia/Calcutta.
    await expect.poll(() => page.locator('#usage-dates-hint').textContent()).toMatch(/Your zone, Asia\/(Kolkata|Calcutta), is not a whole number of hours/);
    await expect.poll(() => page.locator('[role="alert"]').count()).toBe(0);
    // Asking in the zone itself says why not, instead of the API's refusal.
    await page.getByLabel('Time zone').fill('Asia/Kolkata');
    await page.getByRole('button', { name: 'Show usage' }).click();
    await expect.poll(() => page.locator('[role="alert"]').textContent()).toContain('not a whole number of hours');
    await page.close();
  });

  it('shows the other pages without refusing anything or reaching elsewhere', async () => {
    const page = await newPage();
    await signIn(page, b.tenant.key);
    for (const [route, name] of [
      ['plans', 'plans'],
      ['plans/scale', 'plan'],
      ['webhooks', 'webhooks'],
      ['pipeline', 'pipeline'],
      ['invoices', 'invoices'],
      ['customers', 'customers'],
    ] as const) {
      await page.goto(`${b.api.url}/console/#/${route}`);
      await page.getByRole('heading', { level: 1 }).waitFor();
      await page.waitForLoadState('networkidle');
      await shoot(page, name);
    }
    await page.goto(`${b.api.url}/console/#/pipeline`);
    await page.getByTestId('pipeline-aggregator').waitFor();
    // The webhook event filter offers the types the API's own document lists.
    const parameters = (await call('GET', '/openapi.json')).body.paths['/v1/webhook_events'].get.parameters as { name: string; schema: { enum?: string[] } }[];
    const listed = parameters.find((p) => p.name === 'type')!.schema.enum!;
    expect(listed).toContain('invoice.voided');
    await page.goto(`${b.api.url}/console/#/webhooks`);
    await expect.poll(() => page.getByLabel('Event type').locator('option').allTextContents()).toEqual(['All', ...listed]);
    expect(refusals, refusals.join('\n')).toEqual([]);
    expect(elsewhere, elsewhere.join('\n')).toEqual([]);
    await page.close();
  });

  it("never shows another tenant's data", async () => {
    const page = await newPage();
    await signIn(page, b.tenant.key);
    const seen: string[] = [];
    page.on('response', (res) => {
      if (res.url().includes('/v1/')) seen.push(`${res.status()} ${new URL(res.url()).pathname}`);
    });
    await page.goto(`${b.api.url}/console/#/customers/initech`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.waitForLoadState('networkidle');
    expect(await page.locator('body').textContent()).not.toContain('Initech Secret Customer');
    await page.goto(`${b.api.url}/console/#/customers`);
    await page.waitForLoadState('networkidle');
    expect(await page.locator('body').textContent()).not.toContain('Initech');

    // Signed in as the other tenant, this tenant's invoice and customer are not there.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, other.key);
    await page.goto(`${b.api.url}/console/#/invoices/${invoice.id}`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.waitForLoadState('networkidle');
    const text = (await page.locator('body').textContent()) ?? '';
    expect(text).not.toContain('Globex');
    expect(text).not.toContain(invoice.number as string);
    expect(await page.getByTestId('invoice-status').count()).toBe(0);
    await page.goto(`${b.api.url}/console/#/events`);
    await page.locator('[data-testid="live-events"] tr[data-event-id="other_secret_evt"]').waitFor();
    expect(await page.locator('[data-testid="live-events"] tr[data-event-id="live_ok"]').count()).toBe(0);
    // The console asked for the other tenant's customer and was told it does not exist.
    expect(seen).toContain('404 /v1/customers/initech');
    await page.close();
  });

  it("a list's page and filter come back with Back from one of its rows, and with a reload", async () => {
    for (let i = 0; i < 52; i++) await call('POST', '/v1/customers', { id: `zz-${String(i).padStart(2, '0')}`, name: `Paged ${i}`, currency: 'USD' });
    const page = await newPage();
    await signIn(page, b.tenant.key);
    await page.goto(`${b.api.url}/console/#/customers`);
    await page.getByRole('button', { name: 'Next page' }).first().click();
    await expect.poll(() => page.getByText('Page 2').first().isVisible()).toBe(true);
    const firstOnPage2 = await page.locator('[data-customer-id]').first().getAttribute('data-customer-id');
    await page.locator(`a[href$="/customers/${firstOnPage2}"]`).first().click();
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.goBack();
    await expect.poll(() => page.locator('[data-customer-id]').first().getAttribute('data-customer-id')).toBe(firstOnPage2);
    await expect.poll(() => page.getByText('Page 2').first().isVisible()).toBe(true);
    await page.reload();
    await expect.poll(() => page.locator('[data-customer-id]').first().getAttribute('data-customer-id')).toBe(firstOnPage2);
    // A filter too.
    await page.goto(`${b.api.url}/console/#/invoices`);
    await page.getByLabel('Status').selectOption('void');
    await page.locator('[data-invoice-id]').first().waitFor();
    await page.locator('[data-invoice-id] a').first().click();
    await page.getByTestId('invoice-status').waitFor();
    await page.goBack();
    await expect.poll(() => page.getByLabel('Status').inputValue()).toBe('void');
    await page.close();
  });

  it('shows the tenants to the admin key, and nothing of theirs', async () => {
    const page = await newPage();
    await signIn(page, b.api.admin.authorization!.replace(/^Bearer /, ''));
    await page.getByText('console-other').waitFor();
    const links = await page.getByRole('navigation', { name: 'Console' }).getByRole('link').allTextContents();
    expect(links).toEqual(['Tenants']);
    await shoot(page, 'tenants');
    await page.close();
  });
});
