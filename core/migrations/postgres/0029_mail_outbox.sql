-- Email to customers (mail/): every mail is a row, inserted in the transaction of what causes it
-- (an invoice issued, a credit note, a failed payment Stripe reported) or by the overdue sweep,
-- so a mail is never lost and, through its dedup key, never enqueued twice. The mail loop claims
-- due rows with FOR UPDATE SKIP LOCKED under a lease, sends them through the SMTP server and
-- marks them sent while it still holds the lease. `message_id` is fixed when the row is made, so
-- a resend after a connection dropped before the server's reply carries the same Message-ID.
CREATE TABLE IF NOT EXISTS mail_outbox (
  tenant_id        text NOT NULL,
  id               text NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('invoice.finalized', 'credit_note.created', 'invoice.payment_failed', 'invoice.overdue')),
  invoice_id       text NOT NULL,
  credit_note_id   text,
  recipient        text NOT NULL,
  dedup_key        text NOT NULL,
  -- canceled: its invoice was voided, or a reminder's invoice settled, before it went out.
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'canceled')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  locked_by        text,
  locked_until     timestamptz,
  last_error       text,
  message_id       text NOT NULL,
  sent_at          timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, dedup_key)
);

CREATE INDEX IF NOT EXISTS mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE status = 'pending';

-- The overdue sweep looks at open send_invoice invoices only: few beside all the others.
CREATE INDEX IF NOT EXISTS invoices_open_send_invoice_idx ON invoices (tenant_id, id) WHERE status = 'open' AND collection_method = 'send_invoice';
