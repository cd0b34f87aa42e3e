import { describe, expect, it } from 'vitest';
import { importsOf, productionFiles } from '../support/imports.js';

/**
 * The billing core knows nothing of Stripe, outbound webhooks or alerts: what follows a close, a
 * rated batch or a subscription change is registered as a hook by the wiring (app/rating-stack.ts,
 * app/api.ts). And no production file is part of an import cycle (the one this replaced went
 * webhooks/payloads → invoicing/invoices → invoicing/billing → invoicing/close → webhooks/payloads). Checked
 * on the import specifiers of the sources, type-only imports included.
 */
const CORE = ['invoicing/close.ts', 'invoicing/billing.ts', 'invoicing/rating-runs.ts', 'invoicing/assemble.ts', 'invoicing/invoice-writes.ts', 'catalog/subscriptions.ts'];
const SIDE_EFFECTS = ['stripe', 'webhooks', 'alerts'];

/** Every file `start` imports, directly or not, with the chain that reaches it. */
function reachable(start: string): Map<string, string[]> {
  const chains = new Map<string, string[]>([[start, [start]]]);
  const queue = [start];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const target of importsOf(file)) {
      if (chains.has(target)) continue;
      chains.set(target, [...chains.get(file)!, target]);
      queue.push(target);
    }
  }
  return chains;
}

/** The cycles of an import graph, each as the files of one strongly connected group (Tarjan). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      group.push(w);
      if (w === v) break;
    }
    if (group.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(group.sort());
  };
  for (const f of graph.keys()) if (!index.has(f)) visit(f);
  return found;
}

describe('the billing core', () => {
  it.each(CORE)('%s imports nothing from stripe/, webhooks/ or alerts/, directly or not', (file) => {
    const offending = [...reachable(file)].filter(([target]) => SIDE_EFFECTS.includes(target.split('/')[0]!)).map(([, chain]) => chain.join(' → '));
    expect(offending).toEqual([]);
  });
});

describe('production code', () => {
  it('has no import cycle', () => {
    const files = productionFiles();
    expect(files.length, 'production files were found').toBeGreaterThan(100);
    expect(cycles(new Map(files.map((f) => [f, importsOf(f)])))).toEqual([]);
  });
});

describe('the cycle finder', () => {
  it.each([
    ['the cycle this replaced', { 'webhooks/payloads.ts': ['invoicing/invoices.ts'], 'invoicing/invoices.ts': ['invoicing/billing.ts'], 'invoicing/billing.ts': ['invoicing/close.ts'], 'invoicing/close.ts': ['webhooks/payloads.ts', 'core/money.ts'], 'core/money.ts': [] }, [['invoicing/billing.ts', 'invoicing/close.ts', 'invoicing/invoices.ts', 'webhooks/payloads.ts']]],
    ['imports that only go down', { 'a.ts': ['b.ts', 'c.ts'], 'b.ts': ['c.ts'], 'c.ts': [] }, []],
    ['a file importing itself', { 'a.ts': ['a.ts'] }, [['a.ts']]],
    ['two separate cycles', { 'a.ts': ['b.ts'], 'b.ts': ['a.ts'], 'c.ts': ['d.ts'], 'd.ts': ['c.ts'] }, [['a.ts', 'b.ts'], ['c.ts', 'd.ts']]],
  ])('finds the cycles of %s', (_case, graph, expected) => {
    expect(cycles(new Map(Object.entries(graph)))).toEqual(expected);
  });

  it('follows the wiring to every side effect it registers (type-only imports included)', () => {
    expect([...reachable('app/rating-stack.ts').keys()]).toEqual(expect.arrayContaining(['invoicing/close-hooks.ts', 'stripe/outbox.ts', 'webhooks/payloads.ts', 'alerts/evaluate.ts']));
  });
});
