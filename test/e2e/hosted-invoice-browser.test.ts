import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { period } from '../../catalog/periods.js';
import { Dec } from '../../core/money.js';
import { packageRoot } from '../../core/paths.js';
import { solidPng } from '../support/png.js';
import { type StripeBilling, startStripeBilling } from '../support/stripe-billing.js';

/**
 * The hosted invoice page in a real browser (Debian's Chromium, headless): it shows the
 * invoice's own figures, styled under its Content-Security-Policy (no style or image refused),
 * readable on a phone and printable; its PDF link downloads the PDF; its pay link goes to
 * Stripe's page without telling it where the customer came from; it links nowhere else; an
 * expired or revoked link is refused. Screenshots go to test-results/hosted-invoice/.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = path.join(packageRoot(), 'test-results', 'hosted-invoice');
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);

let b: StripeBilling;
let browser: BrowserContext;
let profileDir: string;
let invoice: Record<string, any>;
/** Everything the browser was told by the page about Content-Security-Policy (refusals). */
const refusals: string[] = [];

const call = (method: string, path: string, body?: unknown) => b.call(method, path, body);
/** An expression run in the page (this project's TypeScript has no DOM library, so browser code is text). */
const inPage = <T>(page: Page, expression: string): Promise<T> => page.evaluate<T>(expression);
/** A link's page on the test server: its path (the link is made under TALLY_PUBLIC_URL). */
const onServer = (url: string) => `${b.api.url}${new URL(url).pathname}`;
/** A figure as en-US writes it ("$1,234.50", "-$10.00") as a decimal. */
const figure = (text: string) => new Dec(text.replace(/\u2212/g, '-').replace(/[^0-9.-]/g, ''));

async function newLink(body: Record<string, unknown> = {}): Promise<{ id: string; url: string }> {
  const r = await call('POST', `/v1/invoices/${invoice.id}/links`, body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { id: r.body.id as string, url: onServer(r.body.url as string) };
}

async function open(url: string, viewport = { width: 1100, height: 1400 }): Promise<{ page: Page; status: number | undefined; headers: Record<string, string> }> {
  const page = await browser.newPage();
  await page.setViewportSize(viewport);
  page.on('console', (m) => {
    if (/Content[- ]Security[- ]Policy|Refused to/i.test(m.text())) refusals.push(m.text());
  });
  const response = await page.goto(url);
  return { page, status: response?.status(), headers: response?.headers() ?? {} };
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: this test drives Debian's Chromium package (apt-get install chromium), which .ci/run installs when it is missing`);
  }
  mkdirSync(SHOTS, { recursive: true });
  b = await startStripeBilling({ tenant: 'browser', stripeClock: true, env: { TALLY_EVENT_MAX_AGE_SECONDS: String(200 * 86_400) } });
  await call('PATCH', '/v1/billing_profile', { legal_name: 'Acme Analytics, Inc.', invoice_prefix: 'WEB', email: 'billing@acme.example', address: { line1: '1 Market St', city: 'San Francisco', postal_code: '94105', state: 'CA', country: 'US' } });
  const logo = await fetch(`${b.api.url}/v1/billing_profile/logo`, { method: 'PUT', headers: { authorization: b.tenant.auth.authorization!, 'content-type': 'image/png' }, body: solidPng(120, 40, [29, 78, 216]) });
  expect(logo.status).toBe(200);
  await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  await call('POST', '/v1/plans', {
    code: 'scale',
    name: 'Scale',
    currency: 'USD',
    interval: 'month',
    base_fee: '1250.00',
    charges: [{ meter: 'api_calls', model: 'graduated', tiers: [{ up_to: '1000000', unit_price: '0' }, { up_to: '5000000', unit_price: '0.00042' }, { up_to: null, unit_price: '0.0003' }] }],
  });
  await call('POST', '/v1/customers', {
    id: 'globex',
    name: 'Globex Corporation & Sons <Intl>',
    email: 'ap@globex.example',
    currency: 'USD',
    locale: 'en-US',
    address: { line1: '200 Elm Street', city: 'Springfield', postal_code: '62701', state: 'IL', country: 'US' },
    collection_method: 'send_invoice',
    days_until_due: 30,
  });
  await call('POST', '/v1/subscriptions', { customer: 'globex', plan: 'scale', start_date: start.toISOString() });
  const p0 = period(start, 'month', 0);
  const sent = await call('POST', '/v1/events', { id: 'e1', customer: 'globex', meter: 'api_calls', value: '6250000', timestamp: new Date(p0.start.getTime() + 3 * DAY).toISOString() });
  expect(sent.body).toMatchObject({ accepted: 1 });
  await b.close(new Date(p0.end.getTime() + 2 * 3_600_000));
  await b.syncAndDeliver();
  invoice = (await b.invoicesOf('globex'))[0]!;
  expect(invoice).toMatchObject({ status: 'open', number: 'WEB-0001' });

  profileDir = mkdtempSync(path.join(os.tmpdir(), 'tally-chromium-'));
  browser = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: ARGS, acceptDownloads: true });
});
afterAll(async () => {
  await browser?.close();
  if (profileDir !== undefined) rmSync(profileDir, { recursive: true, force: true });
  await b?.stop();
});

describe('the hosted invoice page in Chromium', () => {
  it('shows the invoice’s number, each line’s amount, the total and the amount due, styled and with its logo, refusing nothing', async () => {
    const link = await newLink();
    const { page, status, headers } = await open(link.url);
    expect(status).toBe(200);
    expect(headers['content-security-policy']).toMatch(/^default-src 'none'/);
    expect(headers['referrer-policy']).toBe('no-referrer');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.title()).toBe('Invoice WEB-0001 · Acme Analytics, Inc.');
    expect(await page.textContent('h1')).toBe('Invoice WEB-0001');
    expect(await page.textContent('.parties')).toContain('Globex Corporation & Sons <Intl>');

    const rows: { detail: boolean; cells: string[] }[] = [];
    for (const tr of await page.locator('tbody tr').all()) rows.push({ detail: (await tr.getAttribute('class')) === 'detail', cells: await tr.locator('th, td').allTextContents() });
    const lines = (invoice.lines as { type: string; amount: string; description: string }[]).filter((l) => l.type !== 'tax');
    const heads = rows.filter((r) => !r.detail);
    expect(heads.map((r) => r.cells[0])).toEqual(lines.map((l) => l.description));
    heads.forEach((r, i) => expect(figure(r.cells[3]!).eq(lines[i]!.amount), `${r.cells[0]}: ${r.cells[3]} vs ${lines[i]!.amount}`).toBe(true));
    // 6,250,000 calls: 1,000,000 free, 4,000,000 at 0.00042 (1,680), 1,250,000 at 0.0003 (375).
    expect(rows.filter((r) => r.detail).map((r) => [r.cells[1], r.cells[2], r.cells[3]])).toEqual([
      ['1,000,000', '$0.00', '$0.00'],
      ['4,000,000', '$0.00042', '$1,680.00'],
      ['1,250,000', '$0.0003', '$375.00'],
    ]);
    const totals: Record<string, string> = {};
    for (const tr of await page.locator('tfoot tr').all()) totals[await tr.locator('th').innerText()] = await tr.locator('td').innerText();
    expect(figure(totals.Subtotal!).eq(invoice.subtotal as string)).toBe(true);
    expect(figure(totals.Total!).eq(invoice.total as string)).toBe(true);
    expect(figure(totals['Amount due']!).eq(invoice.amount_due as string)).toBe(true);
    expect(invoice.total).toBe('3305.00');
    expect(totals.Total).toBe('$3,305.00');

    // The inline stylesheet applied (allowed by its hash), and the logo loaded from the page's own origin.
    expect(await inPage<string>(page, "getComputedStyle(document.querySelector('.button.pay')).backgroundColor")).toBe('rgb(29, 78, 216)');
    expect(await inPage<number>(page, "document.querySelector('img.logo').naturalWidth")).toBe(120);
    expect(refusals).toEqual([]);
    await page.screenshot({ path: path.join(SHOTS, 'desktop.png'), fullPage: true });
    await page.close();
  });

  it('links only to its PDF, its logo and Stripe’s page; runs no script', async () => {
    const link = await newLink();
    const { page } = await open(link.url);
    const found = await inPage<{ links: string[]; scripts: number; frames: number }>(
      page,
      `({
        links: [...document.querySelectorAll('[href], [src], [action], [srcset], [formaction], [poster], [data]')].map((e) => e.href || e.src || e.getAttribute('action') || e.getAttribute('srcset') || 'unknown'),
        scripts: document.scripts.length,
        frames: document.querySelectorAll('iframe, object, embed, form, link').length,
      })`,
    );
    const own = new URL(link.url).pathname;
    const stripePage = b.fake.state.invoice(invoice.stripe_invoice_id as string)!.hosted_invoice_url!;
    expect(found.links.sort()).toEqual([`${b.api.url}${own}/logo`, `${b.api.url}${own}/pdf`, stripePage].sort());
    expect(found.scripts).toBe(0);
    expect(found.frames).toBe(0);
    await page.close();
  });

  it('the PDF link downloads the invoice’s PDF', async () => {
    const link = await newLink();
    const { page } = await open(link.url);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[download]')]);
    expect(download.suggestedFilename()).toBe('WEB-0001.pdf');
    const file = await download.path();
    const pdf = readFileSync(file);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    let text: string;
    try {
      text = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' });
    } catch (e) {
      throw new Error(`pdftotext (Debian's poppler-utils, which .ci/run installs) could not read the download: ${(e as Error).message}`);
    }
    expect(text).toContain('WEB-0001');
    expect(text).toContain('3,305.00');
    await page.close();
  });

  it('the pay link opens Stripe’s page for the invoice, and no Referer tells it the token', async () => {
    const link = await newLink();
    const { page } = await open(link.url);
    const [request] = await Promise.all([page.waitForRequest((r) => r.url().includes('/hosted/')), page.click('a.pay')]);
    await page.waitForLoadState();
    expect(request.url()).toBe(b.fake.state.invoice(invoice.stripe_invoice_id as string)!.hosted_invoice_url);
    expect(request.headers().referer).toBeUndefined();
    expect(await page.textContent('h1')).toBe('Invoice WEB-0001');
    await page.close();
  });

  it('reads on a phone (nothing wider than the screen but the lines, which scroll) and prints without its buttons', async () => {
    const link = await newLink();
    const { page } = await open(link.url, { width: 375, height: 812 });
    const widths = await inPage<{ page: number; screen: number }>(page, '({ page: document.documentElement.scrollWidth, screen: window.innerWidth })');
    expect(widths.page).toBeLessThanOrEqual(widths.screen);
    expect(await page.isVisible('a.pay')).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'phone.png'), fullPage: true });
    await page.emulateMedia({ media: 'print' });
    expect(await page.isVisible('.actions')).toBe(false);
    expect(await page.isVisible('table')).toBe(true);
    await page.close();
  });

  it('a revoked link and an expired one are refused, naming nothing', async () => {
    const revoked = await newLink();
    const expiring = await newLink({ expires_in_days: 1 });
    expect((await call('DELETE', `/v1/invoices/${invoice.id}/links/${revoked.id}`)).status).toBe(200);
    const r = await open(revoked.url);
    expect(r.status).toBe(410);
    expect(await r.page.textContent('h1')).toBe('This link has expired');
    expect(await r.page.textContent('body')).not.toMatch(/WEB-|Globex|Acme|in_/);
    await r.page.screenshot({ path: path.join(SHOTS, 'revoked.png') });
    await r.page.close();

    expect((await open(expiring.url)).status).toBe(200);
    b.fake.advance(DAY / 1000 + 60);
    await b.fake.webhooks.idle();
    const e = await open(expiring.url);
    expect(e.status).toBe(410);
    const pdf = await e.page.request.get(`${expiring.url}/pdf`);
    expect(pdf.status()).toBe(410);
    await e.page.close();
    expect(refusals).toEqual([]);
  });
});
