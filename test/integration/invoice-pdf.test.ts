import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dec } from '../../core/money.js';
import { createRegistry } from '../../core/metrics.js';
import { period } from '../../catalog/periods.js';
import { createRatingStack, type RatingStack } from '../../app/rating-stack.js';
import { jsonRequest, startTestApi, testAggregator, type TestApi } from '../support/api.js';
import { craftedPng, solidPng } from '../support/png.js';
import { deflateSync } from 'node:zlib';

/**
 * Invoice PDFs read back with poppler's pdftotext: every line's description, quantity and
 * amount, each tier's units, unit price and amount, each tax rate, and the totals on the page
 * equal the invoice's JSON exactly (read back as decimals in the locale's notation), in USD
 * (en-US), EUR (de-DE), JPY (ja-JP, a Japanese name), BRL (pt-BR) and KWD (three decimals);
 * 300 lines take several pages; a credit note has its own PDF.
 */
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);
const iso = (d: Date) => d.toISOString();

let api: TestApi;
let t: { id: string; auth: Record<string, string> };
let stack: RatingStack;
let dir: string;
let seq = 0;
const call = (method: string, p: string, body?: unknown) => jsonRequest(api.url, t.auth, method, p, body);

/** Each locale's separators, written here by hand: the check does not ask the formatter. */
const NOTATION: Record<string, { group: string; decimal: string }> = {
  'en-US': { group: ',', decimal: '.' },
  'de-DE': { group: '.', decimal: ',' },
  'ja-JP': { group: ',', decimal: '.' },
  'pt-BR': { group: '.', decimal: ',' },
  'en-GB': { group: ',', decimal: '.' },
};

/** A number as the page writes it ("-1.234,50 €", "R$ 0,125", "KWD 12.345") read back as a decimal. */
function readBack(text: string, locale: string): Dec {
  const n = NOTATION[locale]!;
  const negative = /[-−]/.test(text);
  const digits = text.replace(/[^\d.,]/g, '').split(n.group).join('').replace(n.decimal, '.');
  const d = new Dec(digits);
  return negative ? d.neg() : d;
}

const AMOUNT = /(-?(?:[A-Z]{3}|R\$|\$|￥|¥)?\s?-?\d[\d.,]*(?:\s?(?:€|R\$|KWD))?)\s*$/u;

function pdfText(pdf: Buffer, name: string): { text: string; pages: number } {
  const file = path.join(dir, `${name}.pdf`);
  writeFileSync(file, pdf);
  const text = execFileSync('pdftotext', ['-layout', '-enc', 'UTF-8', file, '-'], { encoding: 'utf8' });
  const pages = Number(/Pages:\s+(\d+)/.exec(execFileSync('pdfinfo', [file], { encoding: 'utf8' }))![1]);
  return { text, pages };
}

async function getPdf(p: string): Promise<Buffer> {
  const res = await fetch(`${api.url}${p}`, { headers: { authorization: t.auth.authorization! } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/pdf');
  const body = Buffer.from(await res.arrayBuffer());
  expect(body.subarray(0, 5).toString()).toBe('%PDF-');
  return body;
}

/** The page's text lines that start with `label` (after indentation). */
const rowsStarting = (text: string, label: string) => text.split('\n').filter((l) => l.trim().startsWith(label));

/** Checks the page against the invoice JSON: lines, tiers, rates and totals. */
function checkPage(text: string, inv: any, locale: string): void {
  const eq = (shown: string, json: string, what: string) => expect(readBack(shown, locale).eq(json), `${what}: page shows ${shown}, JSON has ${json}`).toBe(true);
  const lastAmount = (row: string) => AMOUNT.exec(row)?.[1] ?? '';
  for (const line of inv.lines) {
    if (line.type === 'tax') {
      // Among the totals, with its rate: "VAT (19 %)" in the locale's notation.
      const row = rowsStarting(text, `${line.tax_rate.name} (`)[0];
      expect(row, `tax ${line.tax_rate.name}`).toBeDefined();
      eq(/\(([^)]*)\)/.exec(row!)![1]!, line.tax_rate.percent, 'tax rate');
      eq(lastAmount(row!), line.amount, 'tax amount');
      continue;
    }
    const head = (line.description as string).slice(0, 24);
    const rows = rowsStarting(text, head).filter((r) => readBack(lastAmount(r), locale).eq(line.amount));
    expect(rows.length, `a row "${head}…" with ${line.amount}`).toBeGreaterThanOrEqual(1);
    if (line.quantity !== null) {
      // The quantity column: the number before the amount.
      // The quantity column: before the unit price (per_unit) or the amount.
      const cells = rows[0]!.slice(head.length).trim().split(/\s{2,}/);
      eq(cells[cells.length - (line.pricing?.model === 'per_unit' ? 3 : 2)]!, line.quantity, `quantity of ${head}`);
      if (line.pricing?.model === 'per_unit') eq(cells[cells.length - 2]!, line.pricing.unit_price, `unit price of ${head}`);
    }
    for (const tier of line.pricing?.tiers ?? []) {
      const tierRows = rowsStarting(text, `${tierWord(locale)} ${tier.tier}`).filter((r) => readBack(lastAmount(r), locale).eq(tier.amount));
      expect(tierRows.length, `tier ${tier.tier} of ${head}`).toBeGreaterThanOrEqual(1);
      const cells = tierRows[0]!.trim().split(/\s{2,}/);
      eq(cells[cells.length - 3]!, tier.units, 'tier units');
      eq(cells[cells.length - 2]!, tier.unit_price, 'tier unit price');
    }
  }
  const total = (label: string, json: string) => {
    const row = rowsStarting(text, label).find((r) => readBack(lastAmount(r), locale).eq(json));
    expect(row, `${label} ${json}`).toBeDefined();
  };
  const L = LABELS[locale]!;
  total(L.subtotal, inv.subtotal);
  total(L.total, inv.total);
  total(L.due, inv.amount_due);
  expect(text).toContain(inv.number);
}

const LABELS: Record<string, { subtotal: string; total: string; due: string }> = {
  'en-US': { subtotal: 'Subtotal', total: 'Total', due: 'Amount due' },
  'en-GB': { subtotal: 'Subtotal', total: 'Total', due: 'Amount due' },
  'de-DE': { subtotal: 'Zwischensumme', total: 'Gesamt', due: 'Fälliger Betrag' },
  'pt-BR': { subtotal: 'Subtotal', total: 'Total', due: 'Valor devido' },
  'ja-JP': { subtotal: '小計', total: '合計', due: 'ご請求額' },
};
const tierWord = (locale: string) => ({ 'de-DE': 'Stufe', 'pt-BR': 'Faixa', 'ja-JP': '段階' })[locale] ?? 'Tier';

async function event(customer: string, meter: string, value: string, at: Date): Promise<void> {
  const r = await call('POST', '/v1/events', { id: `e${++seq}`, customer, meter, value, timestamp: iso(at) });
  expect(r.body, JSON.stringify(r.body)).toMatchObject({ accepted: 1 });
}

const invoicesOf = async (customer: string): Promise<any[]> => (await call('GET', `/v1/invoices?customer=${customer}`)).body.data as any[];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tally-pdf-'));
  api = await startTestApi({ env: { TALLY_EVENT_MAX_AGE_SECONDS: String(200 * 86_400), TALLY_CLOSE_GRACE_SECONDS: '3600' } });
  t = await api.tenant('pdf');
  stack = createRatingStack(api.stores.config, api.stores, createRegistry());
  await call('PATCH', '/v1/billing_profile', {
    legal_name: 'Acme Metering GmbH',
    address: { line1: 'Hauptstraße 1', city: 'Berlin', postal_code: '10115', country: 'DE' },
    tax_id: 'DE123456789',
    email: 'billing@acme.example',
    footer: 'IBAN DE89 3704 0044 0532 0130 00 · Thank you for your business.',
    invoice_prefix: 'ACME',
  });
  await call('POST', '/v1/meters', { key: 'api_calls', name: 'API calls', aggregation: 'sum' });
  await call('POST', '/v1/meters', { key: 'storage_gb', name: 'Storage', aggregation: 'max' });
  const charges = [
    { meter: 'api_calls', model: 'graduated', included: '1000', tiers: [{ up_to: '100000', unit_price: '0.0008' }, { up_to: null, unit_price: '0.000625', flat_fee: '1.5' }] },
    { meter: 'storage_gb', model: 'per_unit', unit_price: '0.125' },
  ];
  await call('POST', '/v1/plans', { code: 'usd', name: 'Pro', currency: 'USD', interval: 'month', base_fee: '49.99', charges });
  await call('POST', '/v1/plans', { code: 'eur', name: 'Pro', currency: 'EUR', interval: 'month', base_fee: '1234.56', charges });
  await call('POST', '/v1/plans', { code: 'jpy', name: 'プロ', currency: 'JPY', interval: 'month', base_fee: '4980', charges: [{ meter: 'api_calls', model: 'volume', tiers: [{ up_to: '100000', unit_price: '0.5' }, { up_to: null, unit_price: '0.25' }] }] });
  await call('POST', '/v1/plans', { code: 'brl', name: 'Pro', currency: 'BRL', interval: 'month', base_fee: '199.90', charges });
  await call('POST', '/v1/plans', { code: 'kwd', name: 'Pro', currency: 'KWD', interval: 'month', base_fee: '15.125', charges: [{ meter: 'storage_gb', model: 'per_unit', unit_price: '0.0375' }] });
  await call('POST', '/v1/tax_rates', { country: 'US', region: 'CA', percent: '8.25', name: 'CA sales tax' });
  await call('POST', '/v1/tax_rates', { country: 'DE', percent: '19', name: 'MwSt' });
  await call('POST', '/v1/tax_rates', { country: 'BR', percent: '17.5', name: 'ICMS' });
  const customers = [
    { id: 'usd', name: 'Globex Corporation', currency: 'USD', country: 'US', region: 'CA', locale: 'en-US', address: { line1: '1 Infinite Loop', city: 'Cupertino', state: 'CA', postal_code: '95014', country: 'US' } },
    { id: 'eur', name: 'Müller & Söhne GmbH', currency: 'EUR', country: 'DE', locale: 'de-de', address: { line1: 'Königsallee 92', city: 'Düsseldorf', postal_code: '40212', country: 'DE' }, email: 'rechnung@mueller.example' },
    { id: 'jpy', name: '株式会社山田商事 山田太郎', currency: 'JPY', country: 'JP', locale: 'ja-JP', address: { line1: '丸の内1-2-3', city: '千代田区', state: '東京都', postal_code: '100-0005', country: 'JP' } },
    { id: 'brl', name: 'Ação Comércio Ltda', currency: 'BRL', country: 'BR', locale: 'pt-BR', collection_method: 'send_invoice', days_until_due: 10 },
    { id: 'kwd', name: 'Γιώργος Παπαδόπουλος / Дмитрий Иванов', currency: 'KWD', locale: 'en-GB' },
    { id: 'long', name: 'Initech', currency: 'USD', locale: 'en-US' },
  ];
  for (const c of customers) expect((await call('POST', '/v1/customers', c)).status).toBe(201);
  const subs: Record<string, string> = {};
  for (const c of customers) subs[c.id] = (await call('POST', '/v1/subscriptions', { customer: c.id, plan: c.id === 'long' ? 'usd' : c.id, start_date: iso(start) })).body.id;
  const at = (h: number) => new Date(start.getTime() + h * 3_600_000);
  for (const c of ['usd', 'eur', 'brl']) {
    await event(c, 'api_calls', '60000', at(5));
    await event(c, 'api_calls', '65123.5', at(30));
    await event(c, 'storage_gb', '42.5', at(7));
  }
  await event('jpy', 'api_calls', '123457', at(9));
  await event('kwd', 'storage_gb', '1234.567', at(3));
  // 300 one-off charges: 300 lines (and the base fee) on one invoice.
  for (let i = 1; i <= 300; i++) {
    expect((await call('POST', `/v1/subscriptions/${subs.long}/charges`, { amount: `${i}.${String(i % 100).padStart(2, '0')}`, description: `Consulting block ${String(i).padStart(3, '0')}` })).status).toBe(201);
  }
  await testAggregator(api).runOnce();
  await stack.billing.close(new Date(period(start, 'month', 0).end.getTime() + 3_600_000));
}, 180_000);

afterAll(async () => {
  await stack?.pool.close();
  await api?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('invoice PDFs read back with pdftotext', () => {
  it.each([
    ['usd', 'en-US'],
    ['eur', 'de-DE'],
    ['jpy', 'ja-JP'],
    ['brl', 'pt-BR'],
    ['kwd', 'en-GB'],
  ])('%s in %s: every line, tier, rate and total equals the JSON', async (customer, locale) => {
    const [inv] = await invoicesOf(customer);
    expect(inv.status).toBe('open');
    const { text, pages } = pdfText(await getPdf(`/v1/invoices/${inv.id}/pdf`), customer);
    checkPage(text, inv, locale);
    expect(pages).toBe(1);
  });

  it('writes each locale its own way (figures worked out by hand)', async () => {
    const eur = pdfText(await getPdf(`/v1/invoices/${(await invoicesOf('eur'))[0].id}/pdf`), 'eur-hand').text;
    // Base fee 1234.56 EUR, written the German way; 19 % VAT; a date as 01.02.2026 does.
    expect(eur).toContain('1.234,56 €');
    expect(eur).toMatch(/MwSt \(19 %\)/);
    expect(eur).toContain('Rechnung');
    expect(eur).toMatch(/\d{2}\.\d{2}\.\d{4}/);
    // 125,123.5 calls, 1,000 included: tier 1 takes 100,000 × 0.0008 = 80.00 EUR; tier 2 the
    // other 24,123.5 × 0.000625 + 1.50 flat = 16.5771875 EUR, shown to its last digit.
    expect(eur).toContain('1.000 inklusive');
    expect(eur).toMatch(/Stufe 1\s+100\.000\s+0,0008 €\s+80,00 €/);
    expect(eur).toMatch(/Stufe 2 \+ 1,50 € Pauschale\s+24\.123,5\s+0,000625 €\s+16,5771875 €/);
    const jpy = pdfText(await getPdf(`/v1/invoices/${(await invoicesOf('jpy'))[0].id}/pdf`), 'jpy-hand').text;
    expect(jpy).toContain('株式会社山田商事 山田太郎');
    expect(jpy).toContain('請求書');
    // Volume: 123,457 calls all at the second tier's 0.25 = ¥30,864.25; base fee ¥4,980.
    expect(jpy).toMatch(/[￥¥]4,980/);
    expect(jpy).toMatch(/段階 2\s+123,457\s+[￥¥]0\.25\s+[￥¥]30,864\.25/);
    const brl = pdfText(await getPdf(`/v1/invoices/${(await invoicesOf('brl'))[0].id}/pdf`), 'brl-hand').text;
    expect(brl).toMatch(/R\$\s199,90/);
    expect(brl).toMatch(/ICMS \(17,5\s?%\)/);
    expect(brl).toContain('Vencimento');
    // Net 10, in Portuguese; the card customer's terms in German.
    expect(brl).toMatch(/Condições\s+10 dias/);
    expect(eur).toMatch(/Zahlungsbedingungen\s+Automatische Abbuchung/);
    const kwd = pdfText(await getPdf(`/v1/invoices/${(await invoicesOf('kwd'))[0].id}/pdf`), 'kwd-hand').text;
    // 1234.567 GB at 0.0375 KWD = 46.2962625 KWD, rated half-even to 6 places: 46.296262 (shown
    // exactly); 15.125 + 46.296262 = 61.421262, half-even to the fils: 61.421.
    expect(kwd).toContain('KWD 15.125');
    expect(kwd).toContain('KWD 46.296262');
    expect(kwd).toMatch(/Amount due\s+KWD 61\.421\n/);
    expect(kwd).toContain('Γιώργος Παπαδόπουλος / Дмитрий Иванов');
  });

  it('300 lines take several pages, each with its number, and every line is on one of them', async () => {
    const [inv] = await invoicesOf('long');
    expect((inv.lines as { type: string }[]).filter((l) => l.type === 'charge')).toHaveLength(300);
    const { text, pages } = pdfText(await getPdf(`/v1/invoices/${inv.id}/pdf`), 'long');
    checkPage(text, inv, 'en-US');
    expect(pages).toBeGreaterThanOrEqual(6);
    for (let p = 1; p <= pages; p++) expect(text).toContain(`Page ${p} of ${pages}`);
    // Each charge line once.
    for (let i = 1; i <= 300; i++) expect(rowsStarting(text, `Consulting block ${String(i).padStart(3, '0')}`)).toHaveLength(1);
  });

  it('a credit note has its own PDF', async () => {
    const [inv] = await invoicesOf('eur');
    const note = await call('POST', `/v1/invoices/${inv.id}/credit_notes`, { amount: '100.50', reason: 'order_change', memo: 'Kulanz für März' });
    expect(note.status).toBe(201);
    const { text } = pdfText(await getPdf(`/v1/credit_notes/${note.body.id}/pdf`), 'cn');
    expect(text).toContain('Gutschrift');
    expect(text).toContain(note.body.number);
    expect(text).toContain(inv.number);
    expect(text).toMatch(/Gesamt\s+100,50 €/);
    expect(text).toContain('Kulanz für März');
    // The invoice's own PDF now shows what was credited and what is still due.
    const after = (await call('GET', `/v1/invoices/${inv.id}`)).body;
    checkPage(pdfText(await getPdf(`/v1/invoices/${inv.id}/pdf`), 'eur-after').text, after, 'de-DE');
    expect(pdfText(await getPdf(`/v1/invoices/${inv.id}/pdf`), 'eur-after2').text).toMatch(/Gutgeschrieben\s+-100,50 €/);
  });

  it('prints the logo; refuses what is not a PNG or JPEG, and another tenant’s documents are not found', async () => {
    const logo = solidPng(16, 16, [200, 30, 30]);
    const put = await fetch(`${api.url}/v1/billing_profile/logo`, { method: 'PUT', headers: { authorization: t.auth.authorization!, 'content-type': 'image/png' }, body: logo });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ logo: { content_type: 'image/png', bytes: logo.length } });
    const [inv] = await invoicesOf('usd');
    const withLogo = await getPdf(`/v1/invoices/${inv.id}/pdf`);
    expect(withLogo.toString('latin1')).toMatch(/\/Subtype \/Image/);
    for (const [type, body, code] of [
      ['image/gif', Buffer.from('GIF89a'), 'TALLY_ERR_UNSUPPORTED_MEDIA_TYPE'],
      ['image/png', Buffer.from('not a png at all'), 'TALLY_ERR_INVALID_BODY'],
      ['image/png', Buffer.concat([logo.subarray(0, 40), Buffer.alloc(30)]), 'TALLY_ERR_INVALID_BODY'],
      ['image/jpeg', logo, 'TALLY_ERR_INVALID_BODY'],
    ] as const) {
      const r = await fetch(`${api.url}/v1/billing_profile/logo`, { method: 'PUT', headers: { authorization: t.auth.authorization!, 'content-type': type }, body });
      expect(((await r.json()) as any).error.code, type).toBe(code);
    }
    // Crafted PNGs the PDF library would fail on (some in a callback no handler reaches) and
    // images far larger than their file: each a 400 naming the body, and the server lives on.
    const rgbaRow = (w: number) => Buffer.concat([Buffer.from([0]), Buffer.alloc(w * 4)]);
    for (const [what, bytes] of [
      ['RGBA with data that is not zlib', craftedPng({ width: 1, height: 1, idat: Buffer.from('garbage not zlib') })],
      ['RGB with data that is not zlib', craftedPng({ width: 1, height: 1, colorType: 2, idat: Buffer.from('garbage not zlib') })],
      ['a bad row filter', craftedPng({ width: 1, height: 1, idat: deflateSync(Buffer.from([9, 1, 2, 3, 4])) })],
      ['a bomb: 8000×8000 of zeros', craftedPng({ width: 8000, height: 8000, idat: deflateSync(Buffer.alloc(1024)) })],
      ['2^31-1 a side', craftedPng({ width: 2 ** 31 - 1, height: 2 ** 31 - 1, idat: deflateSync(rgbaRow(1)) })],
      ['data shorter than its size', craftedPng({ width: 4, height: 4, idat: deflateSync(rgbaRow(4)) })],
      ['interlaced', craftedPng({ width: 1, height: 1, interlace: 1, idat: deflateSync(rgbaRow(1)) })],
      ['16-bit', craftedPng({ width: 1, height: 1, depth: 16, idat: deflateSync(Buffer.alloc(9)) })],
      ['colour type 7', craftedPng({ width: 1, height: 1, colorType: 7, idat: deflateSync(rgbaRow(1)) })],
    ] as const) {
      const r = await fetch(`${api.url}/v1/billing_profile/logo`, { method: 'PUT', headers: { authorization: t.auth.authorization!, 'content-type': 'image/png' }, body: bytes });
      expect(r.status, what).toBe(400);
      expect(((await r.json()) as any).error, what).toMatchObject({ code: 'TALLY_ERR_INVALID_BODY', field: 'body' });
    }
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    // A logo over the route's own limit: 413 naming that limit, not the TALLY_MAX_BODY_BYTES setting.
    const big = await fetch(`${api.url}/v1/billing_profile/logo`, { method: 'PUT', headers: { authorization: t.auth.authorization!, 'content-type': 'image/png' }, body: Buffer.alloc(600 * 1024) });
    expect(big.status).toBe(413);
    expect(((await big.json()) as any).error).toMatchObject({ code: 'TALLY_ERR_PAYLOAD_TOO_LARGE', field: 'body', message: 'request body is larger than the 524288 bytes this route takes' });
    // A valid RGBA PNG is kept.
    const rgba = craftedPng({ width: 2, height: 2, idat: deflateSync(Buffer.concat([rgbaRow(2), rgbaRow(2)])) });
    expect((await fetch(`${api.url}/v1/billing_profile/logo`, { method: 'PUT', headers: { authorization: t.auth.authorization!, 'content-type': 'image/png' }, body: rgba })).status).toBe(200);
    await fetch(`${api.url}/v1/billing_profile/logo`, { method: 'PUT', headers: { authorization: t.auth.authorization!, 'content-type': 'image/png' }, body: logo });
    // A logo stored before uploads were read through, that the PDF library fails on: the
    // document is drawn without it.
    await api.stores.postgres.query('UPDATE billing_profiles SET logo = $2 WHERE tenant_id = $1', [t.id, craftedPng({ width: 1, height: 1, idat: Buffer.from('garbage not zlib') })]);
    expect((await getPdf(`/v1/invoices/${inv.id}/pdf`)).length).toBeGreaterThan(1000);
    await fetch(`${api.url}/v1/billing_profile/logo`, { method: 'PUT', headers: { authorization: t.auth.authorization!, 'content-type': 'image/png' }, body: logo });
    // The stored logo is still the good one.
    expect((await getPdf(`/v1/invoices/${inv.id}/pdf`)).toString('latin1')).toMatch(/\/Subtype \/Image/);
    const other = await api.tenant('other');
    for (const p of [`/v1/invoices/${inv.id}/pdf`, '/v1/credit_notes/cn_nope/pdf', '/v1/invoices/in_nope/pdf']) {
      const r = await fetch(`${api.url}${p}`, { headers: { authorization: other.auth.authorization! } });
      expect(r.status, p).toBe(404);
    }
    expect((await fetch(`${api.url}/v1/invoices/${inv.id}/pdf`)).status).toBe(401);
    expect((await fetch(`${api.url}/v1/billing_profile/logo`, { method: 'DELETE', headers: { authorization: t.auth.authorization! } })).status).toBe(200);
    expect((await getPdf(`/v1/invoices/${inv.id}/pdf`)).toString('latin1')).not.toMatch(/\/Subtype \/Image/);
  });
});
