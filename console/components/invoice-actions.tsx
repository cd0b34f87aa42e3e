import { useRef, useState } from 'preact/hooks';
import { ApiError, type CreditNoteReason, type CreditNoteSettle, idempotencyKey, type MarkPaidMethod } from '../api';
import type { Invoice, InvoiceStatus } from '../api-types';
import { money } from '../format';
import { useApi } from '../hooks';
import { ConfirmDialog } from './dialog';

type Action = 'approve' | 'void' | 'mark_paid' | 'mark_uncollectible' | 'credit_note';

/** The statuses each action applies to (the API's rules; it refuses others with TALLY_ERR_INVALID_TRANSITION). */
const ALLOWED: Record<Action, readonly InvoiceStatus[]> = {
  approve: ['draft'],
  mark_paid: ['open', 'uncollectible'],
  credit_note: ['open', 'paid'],
  mark_uncollectible: ['open'],
  void: ['draft', 'open', 'uncollectible'],
};

const BUTTON: Record<Action, string> = { approve: 'Approve', mark_paid: 'Mark paid', credit_note: 'Credit note', mark_uncollectible: 'Mark uncollectible', void: 'Void' };

const METHODS: readonly [MarkPaidMethod, string][] = [
  ['bank_transfer', 'Bank transfer'],
  ['cheque', 'Cheque'],
  ['cash', 'Cash'],
  ['other', 'Other'],
];
const REASONS: readonly [CreditNoteReason, string][] = [
  ['order_change', 'Order change'],
  ['product_unsatisfactory', 'Product unsatisfactory'],
  ['duplicate', 'Duplicate'],
  ['fraudulent', 'Fraudulent'],
];
const SETTLES: readonly [CreditNoteSettle, string][] = [
  ['credit_balance', 'Credit balance (used by the next invoices)'],
  ['refund', 'Refund through Stripe'],
  ['out_of_band', 'Settled outside Tally'],
];

const text = (form: HTMLFormElement, name: string): string | undefined => {
  const value = new FormData(form).get(name);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
};

/**
 * What finance can do to an invoice in its status, each behind a confirmation dialog: approve a
 * draft, void, mark paid (outside Stripe), write off as uncollectible, credit all or part.
 * A submission carries an idempotency key, kept for a resend after a network failure (whose
 * outcome is unknown: the server applies it once) and renewed once the server has answered (it
 * would replay its refusal for the same key, or refuse the key for corrected fields).
 */
export function InvoiceActions({ invoice, onChanged, onStale }: { invoice: Invoice; onChanged: (message: string) => void; onStale: () => void }) {
  const api = useApi();
  const [open, setOpen] = useState<Action | null>(null);
  const idempotency = useRef('');
  // Refused for the invoice's status (409): someone changed it meanwhile; it is read again once the dialog closes.
  const stale = useRef(false);
  const id = invoice.id;
  if (id === null) return null;
  const actions = (Object.keys(ALLOWED) as Action[]).filter((a) => ALLOWED[a].includes(invoice.status));
  const name = invoice.number ?? id;
  const close = () => {
    setOpen(null);
    if (stale.current) {
      stale.current = false;
      onStale();
    }
  };
  const is = (action: Action) => open === action;
  const attempt = async (run: (key: string) => Promise<unknown>, message: string) => {
    try {
      await run(idempotency.current);
    } catch (error) {
      if (error instanceof ApiError && error.status !== 0) idempotency.current = idempotencyKey();
      if (error instanceof ApiError && error.status === 409) stale.current = true;
      throw error;
    }
    onChanged(message);
  };

  return (
    <section aria-labelledby="actions-heading" data-testid="invoice-actions">
      <h2 id="actions-heading">Actions</h2>
      {actions.length === 0 ? (
        <p class="muted">A {invoice.status} invoice cannot change any more.</p>
      ) : (
        <div class="button-row">
          {actions.map((action) => (
            <button key={action} type="button" class={action === 'void' ? 'danger' : undefined} data-action={action} onClick={() => {
                idempotency.current = idempotencyKey();
                setOpen(action);
              }}>
              {BUTTON[action]}
            </button>
          ))}
        </div>
      )}

      <ConfirmDialog
        open={is('approve')}
        title={`Approve ${name}?`}
        confirmLabel="Approve invoice"
        onClose={close}
        onConfirm={() => attempt((key) => api.approveInvoice(id, key), `Invoice ${name} approved.`)}
      >
        <p>The invoice gets its number and is sent to Stripe, which then collects it.</p>
      </ConfirmDialog>

      <ConfirmDialog
        open={is('void')}
        title={`Void ${name}?`}
        confirmLabel="Void invoice"
        danger
        onClose={close}
        onConfirm={(form) => attempt((key) => api.voidInvoice(id, text(form, 'reason'), key), `Invoice ${name} voided.`)}
      >
        <p>Nothing will be owed on it any more; its number stays used. This cannot be undone.</p>
        <label for="void-reason">Reason (optional)</label>
        <textarea id="void-reason" name="reason" maxLength={500} rows={3} />
      </ConfirmDialog>

      <ConfirmDialog
        open={is('mark_paid')}
        title={`Mark ${name} paid?`}
        confirmLabel="Mark invoice paid"
        onClose={close}
        onConfirm={(form) => attempt((key) => api.markPaid(id, (text(form, 'method') ?? 'other') as MarkPaidMethod, text(form, 'reference'), key), `Invoice ${name} marked paid.`)}
      >
        <p>
          For a payment received outside Stripe ({money(invoice.amount_due, invoice.currency)} due): Stripe stops collecting it.
        </p>
        <label for="paid-method">Payment method</label>
        <select id="paid-method" name="method" required>
          {METHODS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
        <label for="paid-reference">Reference (optional)</label>
        <input id="paid-reference" name="reference" type="text" maxLength={200} autoComplete="off" />
      </ConfirmDialog>

      <ConfirmDialog
        open={is('mark_uncollectible')}
        title={`Write ${name} off as uncollectible?`}
        confirmLabel="Mark uncollectible"
        danger
        onClose={close}
        onConfirm={(form) => attempt((key) => api.markUncollectible(id, text(form, 'reason'), key), `Invoice ${name} marked uncollectible.`)}
      >
        <p>Collection stops; it can still be paid or voided later.</p>
        <label for="uncollectible-reason">Reason (optional)</label>
        <textarea id="uncollectible-reason" name="reason" maxLength={500} rows={3} />
      </ConfirmDialog>

      <ConfirmDialog
        open={is('credit_note')}
        title={`Credit ${name}`}
        confirmLabel="Create credit note"
        onClose={close}
        onConfirm={(form) => {
          const settle = text(form, 'settle') as CreditNoteSettle | undefined;
          const memo = text(form, 'memo');
          const body = { amount: text(form, 'amount') ?? '', reason: (text(form, 'reason') ?? 'order_change') as CreditNoteReason, ...(memo === undefined ? {} : { memo }), ...(settle === undefined ? {} : { settle }) };
          return attempt((key) => api.createCreditNote(id, body, key), `Credit note created for invoice ${name}.`);
        }}
      >
        <p>
          Total {money(invoice.total, invoice.currency)}, credited so far {money(invoice.credited, invoice.currency)}
          {invoice.status === 'open' ? `, due ${money(invoice.amount_due, invoice.currency)}: the credit lowers what is due.` : '.'}
        </p>
        <label for="credit-amount">Amount ({invoice.currency})</label>
        <input id="credit-amount" name="amount" type="text" inputMode="decimal" required pattern="\d{1,20}(\.\d{1,6})?" autoComplete="off" aria-describedby="credit-amount-hint" />
        <p id="credit-amount-hint" class="hint">
          A decimal such as 25.00, at most the currency's minor unit (more decimals are refused, never rounded).
        </p>
        <label for="credit-reason">Reason</label>
        <select id="credit-reason" name="reason" required>
          {REASONS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
        {invoice.status === 'paid' ? (
          <>
            <label for="credit-settle">Settle as</label>
            <select id="credit-settle" name="settle" required>
              {SETTLES.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </>
        ) : null}
        <label for="credit-memo">Memo (optional)</label>
        <textarea id="credit-memo" name="memo" maxLength={500} rows={2} />
      </ConfirmDialog>
    </section>
  );
}
