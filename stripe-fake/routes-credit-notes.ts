import { checkParams, issue, plan, renderCreditNote, voidCreditNote } from './credit-notes.js';
import type { Cause } from './invoices.js';
import { listPage, listParams } from './lists.js';
import { array, emptyable, expand, int, mergeMetadata, metadata, object, oneOf, optional, str, timestamp } from './params.js';
import { type Ctx, type Route, checkExpand, route } from './router.js';
import { type CreditNoteEntry, newestFirst } from './store.js';

/**
 * Credit notes: create, preview (the same parameters, nothing written), retrieve, update (memo,
 * metadata), list (by invoice or customer), list lines, void. The rules are in credit-notes.ts.
 * Parameters Stripe has that this server does not model (linking existing `refunds`, shipping,
 * taxes on lines, decimal unit amounts) are refused by name.
 */
const line = object(
  {
    type: oneOf(['invoice_line_item', 'custom_line_item'] as const),
    invoice_line_item: optional(str()),
    amount: optional(int({ min: 0 })),
    quantity: optional(int({ min: 0 })),
    unit_amount: optional(int({ min: 0 })),
    description: optional(str({ max: 5000 })),
    metadata: optional(emptyable(metadata())),
  },
  { unsupported: ['tax_amounts', 'tax_rates', 'unit_amount_decimal'] },
);

const CREATE = {
  invoice: str(),
  amount: optional(int({ min: 0 })),
  lines: optional(array(line)),
  credit_amount: optional(int({ min: 0 })),
  refund_amount: optional(int({ min: 0 })),
  out_of_band_amount: optional(int({ min: 0 })),
  reason: optional(oneOf(['duplicate', 'fraudulent', 'order_change', 'product_unsatisfactory'] as const)),
  memo: optional(str({ max: 5000 })),
  metadata: optional(emptyable(metadata())),
  effective_at: optional(timestamp()),
  // Whether Stripe emails the credit note; no email is sent here either way.
  email_type: optional(oneOf(['credit_note', 'none'] as const)),
  expand: expand(),
};
const UNSUPPORTED = ['customer_account', 'refunds', 'shipping_cost'];
const EXPANDABLE = ['customer', 'invoice'];

const cause = (ctx: Ctx): Cause => ({ requestId: ctx.requestId, idempotencyKey: ctx.idempotencyKey });

const noteOf = (ctx: Ctx, id: string | undefined): CreditNoteEntry => ctx.store.creditNote(id ?? '', 'id', 404);

export const creditNoteRoutes: Route[] = [
  route(
    'POST',
    '/v1/credit_notes',
    CREATE,
    (ctx, p) => {
      const expandList = checkExpand(p.expand, EXPANDABLE);
      const entry = issue(ctx.store, ctx.webhooks, plan(ctx.store, p, ctx.serverUrl), cause(ctx));
      return renderCreditNote(ctx.store, entry, { expand: expandList });
    },
    { unsupported: UNSUPPORTED, check: checkParams },
  ),
  // Before /:id, which would take "preview" for an id.
  route(
    'GET',
    '/v1/credit_notes/preview',
    CREATE,
    (ctx, p) => {
      const expandList = checkExpand(p.expand, EXPANDABLE);
      const pl = plan(ctx.store, p, ctx.serverUrl);
      return renderCreditNote(ctx.store, { obj: pl.note, lines: pl.lines }, { expand: expandList });
    },
    { unsupported: UNSUPPORTED, check: checkParams },
  ),
  route(
    'GET',
    '/v1/credit_notes',
    { ...listParams, invoice: optional(str()), customer: optional(str()), expand: expand() },
    ({ store }, p) => {
      const expandList = checkExpand(p.expand, ['data.customer', 'data.invoice']).map((e) => e.slice('data.'.length));
      const all = newestFirst(store.creditNotes.values())
        .filter((e) => (p.invoice === undefined || e.obj.invoice === p.invoice) && (p.customer === undefined || e.obj.customer === p.customer))
        .map((e) => renderCreditNote(store, e, { expand: expandList }));
      return listPage(all, p, '/v1/credit_notes', 'credit_note');
    },
    { unsupported: ['created', 'customer_account'] },
  ),
  route('GET', '/v1/credit_notes/:id', { expand: expand() }, (ctx, p, path) => {
    const expandList = checkExpand(p.expand, EXPANDABLE);
    return renderCreditNote(ctx.store, noteOf(ctx, path.id), { expand: expandList });
  }),
  route('POST', '/v1/credit_notes/:id', { memo: optional(str({ max: 5000 })), metadata: optional(emptyable(metadata())), expand: expand() }, (ctx, p, path) => {
    const expandList = checkExpand(p.expand, EXPANDABLE);
    const entry = noteOf(ctx, path.id);
    const n = entry.obj;
    const previous: Record<string, unknown> = {};
    const metadata = mergeMetadata(n.metadata, p.metadata);
    if (p.memo !== undefined && p.memo !== n.memo) {
      previous.memo = n.memo;
      n.memo = p.memo;
    }
    const metadataBefore = n.metadata;
    n.metadata = metadata;
    if (JSON.stringify(metadataBefore) !== JSON.stringify(n.metadata)) previous.metadata = metadataBefore;
    if (Object.keys(previous).length > 0) ctx.webhooks.emit('credit_note.updated', renderCreditNote(ctx.store, entry), { ...cause(ctx), previousAttributes: previous });
    return renderCreditNote(ctx.store, entry, { expand: expandList });
  }),
  route('GET', '/v1/credit_notes/:id/lines', { ...listParams, expand: expand() }, (ctx, p, path) => {
    checkExpand(p.expand, []);
    const entry = noteOf(ctx, path.id);
    return listPage(structuredClone(entry.lines), p, `/v1/credit_notes/${entry.obj.id}/lines`, 'credit_note_line_item');
  }),
  route('POST', '/v1/credit_notes/:id/void', { expand: expand() }, (ctx, p, path) => {
    const expandList = checkExpand(p.expand, EXPANDABLE);
    const entry = noteOf(ctx, path.id);
    voidCreditNote(ctx.store, ctx.webhooks, entry, cause(ctx));
    return renderCreditNote(ctx.store, entry, { expand: expandList });
  }),
];
