import { Counter, Gauge, type Registry } from 'prom-client';
import { MAIL_KINDS } from './rules.js';

export interface MailMetrics {
  sent: Counter<'kind'>;
  failed: Counter<'kind'>;
  /** Attempts that failed and will be tried again. */
  retried: Counter;
  /** Mails not enqueued, by why (no_recipient: the customer has no email address). */
  skipped: Counter<'reason'>;
  /** Mails not sent yet (due now or waiting for a retry). */
  pending: Gauge;
  oldestPending: Gauge;
}

/**
 * The mail metrics of a registry, made once: the API (whose hooks enqueue mails) and the mail
 * loop of `tally start` share one registry, so a second call returns the same ones.
 */
export function mailMetrics(registry: Registry): MailMetrics {
  const existing = registry.getSingleMetric('tally_mail_sent_total');
  if (existing !== undefined) {
    const get = <T>(name: string) => registry.getSingleMetric(name) as T;
    return {
      sent: existing as Counter<'kind'>,
      failed: get('tally_mail_failed_total'),
      retried: get('tally_mail_retries_total'),
      skipped: get('tally_mail_skipped_total'),
      pending: get('tally_mail_pending'),
      oldestPending: get('tally_mail_oldest_pending_seconds'),
    };
  }
  const metrics: MailMetrics = {
    sent: new Counter({ name: 'tally_mail_sent_total', help: 'Emails the SMTP server accepted, by kind.', labelNames: ['kind'] as const, registers: [registry] }),
    failed: new Counter({
      name: 'tally_mail_failed_total',
      help: 'Emails failed for good (refused for their recipient, or out of retries), by kind. The logs and mail_outbox.last_error say why.',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    retried: new Counter({ name: 'tally_mail_retries_total', help: 'Email attempts that failed and are tried again later (4xx, connection refused or dropped, timeout).', registers: [registry] }),
    skipped: new Counter({ name: 'tally_mail_skipped_total', help: 'Emails not enqueued, by reason (no_recipient: the customer has no email address).', labelNames: ['reason'] as const, registers: [registry] }),
    pending: new Gauge({ name: 'tally_mail_pending', help: 'Emails not sent yet: due now, or waiting for a retry.', registers: [registry] }),
    oldestPending: new Gauge({ name: 'tally_mail_oldest_pending_seconds', help: 'Age of the oldest email not sent yet (0 when none is pending).', registers: [registry] }),
  };
  for (const kind of MAIL_KINDS) {
    metrics.sent.inc({ kind }, 0);
    metrics.failed.inc({ kind }, 0);
  }
  metrics.skipped.inc({ reason: 'no_recipient' }, 0);
  return metrics;
}
