import { describe, expect, it } from 'vitest';
import { Formatter } from '../../documents/format.js';
import { LocaleSchema } from '../../catalog/address.js';

/** Amounts, quantities, rates and dates as each locale writes them: expected strings written by hand. */
describe('document formatting', () => {
  it.each([
    ['en-US', 'USD', '1234567.890000', '$1,234,567.89'],
    ['en-US', 'USD', '12.345000', '$12.345'],
    ['en-US', 'USD', '-0.125000', '-$0.125'],
    ['de-DE', 'EUR', '-1234.5', '-1.234,50 €'],
    ['ja-JP', 'JPY', '1200.000000', '￥1,200'],
    ['ja-JP', 'JPY', '30864.25', '￥30,864.25'],
    ['pt-BR', 'BRL', '-0.125000', '-R$ 0,125'],
    ['en-GB', 'KWD', '1234.1', 'KWD 1,234.100'],
    ['en-IN', 'INR', '123456789.123456789012345678901234', '₹12,34,56,789.123456789012345678901234'],
    ['de-CH', 'CHF', '1234.56', "CHF 1'234.56"],
  ])('%s %s %s → %s', (locale, currency, value, shown) => {
    expect(new Formatter(locale, currency).amount(value).replace(/\u00a0/g, ' ')).toBe(shown);
  });

  it('keeps every digit of numbers no float could hold', () => {
    const f = new Formatter('en-US', 'USD');
    expect(f.quantity('99999999999999999999999.000001')).toBe('99,999,999,999,999,999,999,999.000001');
    expect(f.amount('0.000000000001')).toBe('$0.000000000001');
  });

  it('writes rates and dates the locale’s way', () => {
    expect(new Formatter('de-DE', 'EUR').percent('19.5').replace(/\u00a0/g, ' ')).toBe('19,5 %');
    expect(new Formatter('en-US', 'USD').percent('8.25')).toBe('8.25%');
    expect(new Formatter('de-DE', 'EUR').day('2026-03-01T00:00:00Z')).toBe('01.03.2026');
    expect(new Formatter('en-US', 'USD').day('2026-03-01T23:30:00Z')).toBe('Mar 1, 2026');
  });

  it('writes figures in Latin digits whatever numbering system the locale asks for (the fonts have no other)', () => {
    expect(new Formatter('zh-u-nu-hanidec', 'USD').amount('507559079.86')).toBe('US$507,559,079.86');
    expect(new Formatter('zh-u-nu-hanidec', 'USD').percent('19.5')).toBe('19.5%');
    expect(new Formatter('ar-EG', 'EGP').amount('1234.5')).toMatch(/1[^\d]?234[^\d]50/);
    expect(new Formatter('th-TH-u-nu-thai', 'THB').day('2026-03-01T00:00:00Z')).toMatch(/1/);
  });

  it('falls back to en-US for an unknown or missing locale', () => {
    expect(new Formatter(null, 'USD').locale).toBe('en-US');
    expect(new Formatter('zz-ZZ-x-nope', 'USD').amount('1')).toMatch(/1\.00/);
  });

  it('accepts customer locales in canonical form and refuses others', () => {
    expect(LocaleSchema.parse('de-de')).toBe('de-DE');
    expect(LocaleSchema.parse('pt-BR')).toBe('pt-BR');
    for (const bad of ['', 'not a locale', 'en_US', 'x'.repeat(40), 'de-DE\u0000']) expect(LocaleSchema.safeParse(bad).success, bad).toBe(false);
  });
});
