import { createHash } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { period } from '../../catalog/periods.js';
import { Dec } from '../../core/money.js';
import { hostedUrl, InvoiceLinks } from '../../documents/links.js';
import { labelsFor } from '../../documents/labels.js';
import { jsonRequest } from '../support/api.js';
import { solidPng } from '../support/png.js';
import { type StripeBilling, startStripeBilling } from '../support/stripe-billing.js';

/**
 * The hosted invoice page: a link made by the tenant opens one issued invoice, without a key,
 * as HTML showing the invoice's own figures, with its PDF, its logo and Stripe's page to pay
 * it while it is open. A draft has none; an expired or revoked link opens nothing; a link to
 * one invoice reaches no other, whatever the path says; another tenant cannot see, make or
 * revoke the links.
 */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);
const PUBLIC_URL = 'https://billing.example.com/tally';
const de = labelsFor('de-DE');

let b: StripeBilling;
let other: { auth: Record<string, string> };
const call = (method: string, path: string, body?: unknown) => b.call(method, path, body);
const asOther = (method: string, path: string, body?: unknown) => jsonRequest(b.api.url, other.auth, method, path, body);
const invoiceOf = async (customer: string) => (await b.invoicesOf(customer))[0]!;
let a: Record<string, any>;
let bInv: Record<string, any>;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** A GET sent with its path exactly as written: no client-side normalisation of `..` or escapes. */
function raw(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const u = new URL(b.api.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, body, text: body.toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The token and path of a link's URL. */
const tokenOf = (url: string) => /\/i\/([A-Za-z0-9_-]{43})$/.exec(url)![1]!;
const pageOf = (url: string) => raw(`/i/${tokenOf(url)}`);

const unescape = (html: string) => html.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
/** A figure as de-DE writes it ("1.234,50 €", "-10,00 €") as a decimal. */
const figure = (text: string) => new Dec(text.replace(/\u2212/g, '-').replace(/[^0-9,-]/g, '').replace(',', '.'));

/** The table of a page: its rows (description, quantity, unit price, amount; level) and totals (label → value). */
function tableOf(html: string) {
  const tbody = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)![1]!;
  const tfoot = /<tfoot>([\s\S]*?)<\/tfoot>/.exec(html)![1]!;
  const rows = [...tbody.matchAll(/<tr( class="detail")?><th scope="row">(.*?)<\/th><td class="num"[^>]*>(.*?)<\/td><td class="num"[^>]*>(.*?)<\/td><td class="num">(.*?)<\/td><\/tr>/g)].map((m) => ({
    level: m[1] === undefined ? 0 : 1,
    description: unescape(m[2]!),
    quantity: unescape(m[3]!),
    unitPrice: unescape(m[4]!),
    amount: unescape(m[5]!),
  }));
  const totals = new Map([...tfoot.matchAll(/<th scope="row" colspan="3">(.*?)<\/th><td class="num">(.*?)<\/td>/g)].map((m) => [unescape(m[1]!), unescape(m[2]!)]));
  return { rows, totals };
}

function expectPrivate(r: Answer) {
  expect(r.headers['cache-control']).toBe('no-store');
  expect(r.headers['referrer-policy']).toBe('no-referrer');
  expect(r.headers['x-robots-tag']).toMatch(/noindex/);
  expect(r.headers['x-content-type-options']).toBe('nosniff');
  const csp = r.headers['content-security-policy'] as string;
  expect(csp).toMatch(/default-src 'none'/);
  expect(csp).toMatch(/img-src 'self'/);
  expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'/);
  expect(csp).not.toMatch(/script-src|unsafe-inline|unsafe-eval|\*/);
}

beforeAll(async () => {
  b = await startStripeBilling({
    tenant: 'hosted',
    env: { TALLY_INVOICE_REVIEW: 'true', TALLY_PUBLIC_URL: `${PUBLIC_URL}/`, TALLY_EVENT_MAX_AGE_SECONDS: String(200 * 86_400) },
    stripeClock: true,
  });
  other = await b.api.tenant('other');
  expect((await call('PATCH', '/v1/billing_profile', { legal_name: 'Acme <Analytics> & "Söhne"', invoice_prefix: 'HOST', footer: 'IBAN DE89 3704 0044 0532 0130 00' })).status).toBe(200);
  const logo = await fetch(`${b.api.url}/v1/billing_profile/logo`, { method: 'PUT', headers: { authorization: b.tenant.auth.authorization!, 'content-type': 'image/png' }, body: solidPng(8, 4, [20, 60, 200]) });
  expect(logo.status).toBe(200);
  await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  await call('POST', '/v1/tax_rates', { country: 'DE', percent: '19', name: 'USt' });
  const plan = await call('POST', '/v1/plans', {
    code: 'pro',
    name: 'Pro',
    currency: 'EUR',
    interval: 'month',
    base_fee: '99.00',
    charges: [{ meter: 'api_calls', model: 'graduated', tiers: [{ up_to: '100000', unit_price: '0' }, { up_to: null, unit_price: '0.0008' }] }],
  });
  expect(plan.status).toBe(201);
  const address = { line1: 'Hauptstr. 1', city: 'Berlin', postal_code: '10115', country: 'DE' };
  for (const [id, name] of [
    ['a', 'Müller & <script>alert("x")</script> GmbH'],
    ['b', 'Zweite AG'],
  ] as const) {
    const c = await call('POST', '/v1/customers', { id, name, currency: 'EUR', country: 'DE', address, locale: 'de-DE', collection_method: 'send_invoice', days_until_due: 14 });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    await call('POST', '/v1/subscriptions', { customer: id, plan: 'pro', start_date: start.toISOString() });
  }
  const p0 = period(start, 'month', 0);
  let n = 0;
  for (const [customer, value] of [
    ['a', '150000'],
    ['b', '100500'],
  ] as const) {
    const r = await call('POST', '/v1/events', { id: `e${++n}`, customer, meter: 'api_calls', value, timestamp: new Date(p0.start.getTime() + 2 * DAY).toISOString() });
    expect(r.body).toMatchObject({ accepted: 1 });
  }
  await b.close(new Date(p0.end.getTime() + 2 * 3_600_000));
});
afterAll(async () => {
  await b?.stop();
});

describe('links to the hosted invoice page', () => {
  it('a draft under review has none: 409, and no link is made', async () => {
    const draft = await invoiceOf('a');
    expect(draft.status).toBe('draft');
    const r = await call('POST', `/v1/invoices/${draft.id}/links`, {});
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'TALLY_ERR_INVALID_TRANSITION' });
    expect((await call('GET', `/v1/invoices/${draft.id}/links`)).body).toEqual({ data: [] });
    const links = new InvoiceLinks(b.api.stores.postgres, { publicUrl: PUBLIC_URL, days: 30 });
    await expect(hostedUrl(b.api.stores.postgres, b.tenant.id, draft.id, { publicUrl: PUBLIC_URL, days: 30 })).rejects.toMatchObject({ code: 'TALLY_ERR_INVALID_TRANSITION' });
    expect(await links.list(b.tenant.id, draft.id)).toEqual([]);
  });

  it('once approved and finalized by Stripe, the invoice records Stripe’s page for paying it', async () => {
    for (const c of ['a', 'b']) expect((await call('POST', `/v1/invoices/${(await invoiceOf(c)).id}/approve`, {})).status).toBe(200);
    await b.syncAndDeliver();
    a = await invoiceOf('a');
    bInv = await invoiceOf('b');
    expect(a).toMatchObject({ status: 'open', number: 'HOST-0001' });
    expect(bInv).toMatchObject({ status: 'open', number: 'HOST-0002' });
    const stripe = b.fake.state.invoice(a.stripe_invoice_id as string)!;
    expect(stripe.hosted_invoice_url).toBe(`${b.fake.url}/hosted/${a.stripe_invoice_id as string}`);
    const { rows } = await b.api.stores.postgres.query<{ url: string }>('SELECT stripe_hosted_url AS url FROM invoices WHERE tenant_id = $1 AND id = $2', [b.tenant.id, a.id]);
    expect(rows[0]!.url).toBe(stripe.hosted_invoice_url);
  });

  it('made: an unguessable URL under TALLY_PUBLIC_URL, shown once; only the token’s hash is kept', async () => {
    const made = await call('POST', `/v1/invoices/${a.id}/links`, {});
    expect(made.status).toBe(201);
    expect(made.body).toEqual({ id: expect.stringMatching(/^ilnk_/), invoice: a.id, url: expect.stringMatching(/^https:\/\/billing\.example\.com\/tally\/i\/[A-Za-z0-9_-]{43}$/), created_at: expect.any(String), expires_at: expect.any(String) });
    expect(Date.parse(made.body.expires_at as string) - Date.parse(made.body.created_at as string)).toBe(30 * DAY);
    const token = tokenOf(made.body.url as string);
    const listed = await call('GET', `/v1/invoices/${a.id}/links`);
    expect(listed.body.data).toEqual([expect.objectContaining({ id: made.body.id, status: 'active', revoked_at: null, actor: expect.stringMatching(/^api_key:/) })]);
    expect(JSON.stringify(listed.body)).not.toContain(token);
    const { rows } = await b.api.stores.postgres.query<Record<string, unknown>>('SELECT * FROM invoice_links WHERE tenant_id = $1', [b.tenant.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toEqual(createHash('sha256').update(token).digest());
    expect(JSON.stringify(rows)).not.toContain(token);
    // Two links are two tokens.
    const again = await call('POST', `/v1/invoices/${a.id}/links`, { expires_in_days: 7 });
    expect(tokenOf(again.body.url as string)).not.toBe(token);
    expect(Date.parse(again.body.expires_at as string) - Date.parse(again.body.created_at as string)).toBe(7 * DAY);
    for (const days of [0, 366, 1.5, '3']) {
      expect((await call('POST', `/v1/invoices/${a.id}/links`, { expires_in_days: days })).body.error).toMatchObject({ field: 'expires_in_days' });
    }
    expect((await call('POST', `/v1/invoices/${a.id}/links`, { colour: 'red' })).body.error).toMatchObject({ code: 'TALLY_ERR_UNKNOWN_FIELD' });
    expect((await call('POST', '/v1/invoices/in_nope/links', {})).status).toBe(404);
    const resolved = await new InvoiceLinks(b.api.stores.postgres, { publicUrl: PUBLIC_URL, days: 30 }).resolve(token);
    expect(resolved).toEqual({ tenantId: b.tenant.id, invoiceId: a.id });
  });

  it('the page shows the invoice’s own figures, in the customer’s language, escaped, with its PDF, logo and Stripe’s page to pay', async () => {
    const link = await call('POST', `/v1/invoices/${a.id}/links`, {});
    const token = tokenOf(link.body.url as string);
    const r = await raw(`/i/${token}`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expectPrivate(r);
    const html = r.text;
    expect(html).toMatch(/^<!doctype html>\n<html lang="de">/);
    expect(html).toContain(`<h1>${de.invoice} HOST-0001</h1>`);
    // Nothing a customer or tenant wrote becomes markup.
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('Müller &amp; &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; GmbH');
    expect(html).toContain('Acme &lt;Analytics&gt; &amp; &quot;Söhne&quot;');

    // Every line of the invoice (tax lines are among the totals), with its amount.
    const { rows, totals } = tableOf(html);
    const lines = (a.lines as { type: string; amount: string; description: string }[]).filter((l) => l.type !== 'tax');
    const heads = rows.filter((x) => x.level === 0);
    expect(heads.map((x) => x.description)).toEqual(lines.map((l) => l.description));
    heads.forEach((row, i) => expect(figure(row.amount).eq(lines[i]!.amount), `${row.description}: ${row.amount} vs ${lines[i]!.amount}`).toBe(true));
    // The usage line's tiers: 100,000 free, 50,000 at 0.0008 = 40.
    expect(rows.filter((x) => x.level === 1).map((x) => figure(x.amount).toFixed(2))).toEqual(['0.00', '40.00']);
    expect(figure(totals.get(de.subtotal)!).eq(a.subtotal as string)).toBe(true);
    expect(figure([...totals].find(([label]) => label.startsWith('USt ('))![1]).eq(a.tax as string)).toBe(true);
    expect(figure(totals.get(de.total)!).eq(a.total as string)).toBe(true);
    expect(figure(totals.get(de.amountDue)!).eq(a.amount_due as string)).toBe(true);
    expect(a.total).toBe('165.41');

    // Its only links: its own PDF and logo (under the public URL's path) and Stripe's page.
    const hrefs = [...html.matchAll(/\b(?:href|src)="([^"]*)"/g)].map((m) => unescape(m[1]!));
    const stripePage = b.fake.state.invoice(a.stripe_invoice_id as string)!.hosted_invoice_url!;
    expect(hrefs.sort()).toEqual([`/tally/i/${token}/logo`, `/tally/i/${token}/pdf`, stripePage].sort());
    expect(html).toContain(`>${de.payOnline}</a>`);
    expect(html).toContain(`>${de.downloadPdf}</a>`);

    const pdf = await raw(`/i/${token}/pdf`);
    expect(pdf.status).toBe(200);
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect(pdf.headers['content-disposition']).toBe('attachment; filename="HOST-0001.pdf"');
    expect(pdf.body.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expectPrivate(pdf);
    const logo = await raw(`/i/${token}/logo`);
    expect(logo.status).toBe(200);
    expect(logo.headers['content-type']).toBe('image/png');
    expect(logo.body).toEqual(solidPng(8, 4, [20, 60, 200]));
  });

  it('paid, the page says so and offers no payment; without a logo, /logo is a 404', async () => {
    const link = await call('POST', `/v1/invoices/${bInv.id}/links`, {});
    const token = tokenOf(link.body.url as string);
    expect((await pageOf(link.body.url as string)).text).toContain(`>${de.payOnline}</a>`);
    expect((await call('POST', `/v1/invoices/${bInv.id}/mark_paid`, { method: 'bank_transfer' })).status).toBe(200);
    const page = (await pageOf(link.body.url as string)).text;
    expect(page).toContain(`<p class="stamp">${de.status.paid}</p>`);
    expect(page).not.toContain(de.payOnline);
    expect(page).not.toContain('/hosted/');
    expect((await fetch(`${b.api.url}/v1/billing_profile/logo`, { method: 'DELETE', headers: b.tenant.auth })).status).toBe(200);
    expect((await raw(`/i/${token}`)).text).not.toContain('/logo"');
    const logo = await raw(`/i/${token}/logo`);
    expect(logo.status).toBe(404);
    expect(logo.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('a link opens its own invoice and nothing else, whatever the path or query says', async () => {
    const link = await call('POST', `/v1/invoices/${a.id}/links`, {});
    const token = tokenOf(link.body.url as string);
    const bId = bInv.id as string;
    for (const path of [
      `/i/${token}/../${bId}`,
      `/i/${token}/..%2F${bId}`,
      `/i/${token}%2F..%2F${bId}`,
      `/i/${token}%2Fpdf`,
      `/i/${token}/${bId}`,
      `/i/${token}/pdf/${bId}`,
      `/i/${bId}`,
      `/i/${bId}/pdf`,
      `/i/${token.slice(0, -1)}`,
      `/i/${token}x`,
      `/i/${token.toLowerCase()}`,
      `/i/`,
      `/i`,
    ]) {
      const r = await raw(path);
      expect(r.status, path).toBe(404);
      // (The router's own 404 names the path it was asked for, and nothing else.)
      expect(r.text, path).not.toMatch(/HOST-000|Zweite|Müller|Acme/);
    }
    for (const path of [`/i/${token}?invoice=${bId}`, `/i/${token}?id=${bId}&tenant=${b.tenant.id}`, `/i/${token}?x=1`]) {
      const r = await raw(path);
      expect(r.status, path).toBe(200);
      expect(r.text, path).toContain('HOST-0001');
      expect(r.text, path).not.toContain('HOST-0002');
    }
    const pdf = await raw(`/i/${token}/pdf?invoice=${bId}&number=HOST-0002`);
    expect(pdf.status).toBe(200);
    expect(pdf.headers['content-disposition']).toBe('attachment; filename="HOST-0001.pdf"');
    // The token is no key to the API.
    for (const auth of [`Bearer ${token}`, token]) {
      expect((await raw(`/v1/invoices/${a.id as string}`, { authorization: auth })).status).toBe(401);
    }
    expect((await raw(`/v1/invoices/${bId}/pdf`)).status).toBe(401);
  });

  it('revoked: refused at once (410, naming nothing), and revoking again changes nothing', async () => {
    const link = await call('POST', `/v1/invoices/${a.id}/links`, {});
    expect((await pageOf(link.body.url as string)).status).toBe(200);
    const revoked = await call('DELETE', `/v1/invoices/${a.id}/links/${link.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: link.body.id, status: 'revoked', revoked_at: expect.any(String) });
    const again = await call('DELETE', `/v1/invoices/${a.id}/links/${link.body.id}`);
    expect(again.body).toEqual(revoked.body);
    const token = tokenOf(link.body.url as string);
    for (const path of [`/i/${token}`, `/i/${token}/pdf`, `/i/${token}/logo`]) {
      const r = await raw(path);
      expect(r.status, path).toBe(410);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expectPrivate(r);
      expect(r.text).not.toMatch(/HOST-|in_|ten_|Acme|Müller/);
    }
    const unknown = await raw(`/i/${'A'.repeat(43)}`);
    expect(unknown.status).toBe(404);
    expectPrivate(unknown);
    expect(unknown.text).toMatch(/^<!doctype html>/);
    // The same tenant's other invoice has no such link.
    expect((await call('DELETE', `/v1/invoices/${bInv.id}/links/${link.body.id}`)).status).toBe(404);
    expect((await call('DELETE', `/v1/invoices/${a.id}/links/ilnk_nope`)).status).toBe(404);
  });

  it('another tenant cannot list, make or revoke links of the invoice', async () => {
    const link = await call('POST', `/v1/invoices/${a.id}/links`, {});
    expect((await asOther('GET', `/v1/invoices/${a.id}/links`)).status).toBe(404);
    expect((await asOther('POST', `/v1/invoices/${a.id}/links`, {})).status).toBe(404);
    expect((await asOther('DELETE', `/v1/invoices/${a.id}/links/${link.body.id}`)).status).toBe(404);
    expect((await pageOf(link.body.url as string)).status).toBe(200);
    const listed = (await call('GET', `/v1/invoices/${a.id}/links`)).body.data as { id: string; status: string }[];
    expect(listed.find((l) => l.id === link.body.id)).toMatchObject({ status: 'active' });
    // And without a key, nothing at all.
    expect((await raw(`/v1/invoices/${a.id as string}/links`)).status).toBe(401);
  });

  it('hostedUrl makes a working link inside a transaction or outside one', async () => {
    const settings = { publicUrl: PUBLIC_URL, days: 30, clock: () => b.fake.now() };
    const inside = await b.api.stores.postgres.transaction((tx) => hostedUrl(tx, b.tenant.id, a.id as string, settings));
    const outside = await hostedUrl(b.api.stores.postgres, b.tenant.id, a.id as string, settings);
    for (const url of [inside, outside]) {
      expect(url.startsWith(`${PUBLIC_URL}/i/`)).toBe(true);
      expect((await pageOf(url)).status).toBe(200);
    }
    const listed = (await call('GET', `/v1/invoices/${a.id}/links`)).body.data as { actor: string }[];
    expect(listed.filter((l) => l.actor === 'system')).toHaveLength(2);
    await expect(hostedUrl(b.api.stores.postgres, b.tenant.id, 'in_nope', settings)).rejects.toMatchObject({ code: 'TALLY_ERR_NOT_FOUND' });
  });

  it('expired: refused (410) once its days are over, and listed as expired', async () => {
    const link = await call('POST', `/v1/invoices/${a.id}/links`, { expires_in_days: 1 });
    const lasting = await call('POST', `/v1/invoices/${a.id}/links`, {});
    expect((await pageOf(link.body.url as string)).status).toBe(200);
    b.fake.advance(DAY / 1000 + 1);
    await b.fake.webhooks.idle();
    expect((await pageOf(link.body.url as string)).status).toBe(410);
    expect((await raw(`/i/${tokenOf(link.body.url as string)}/pdf`)).status).toBe(410);
    expect((await pageOf(lasting.body.url as string)).status).toBe(200);
    const listed = (await call('GET', `/v1/invoices/${a.id}/links`)).body.data as { id: string; status: string }[];
    expect(listed.find((l) => l.id === link.body.id)?.status).toBe('expired');
    expect(listed.find((l) => l.id === lasting.body.id)?.status).toBe('active');
  });
});
