import { ApiError } from '../api';
import type { Subscription } from '../api-types';
import { useApi, useLoad } from '../hooks';
import { InvoiceLines, InvoiceTotals } from './invoice-lines';
import { ErrorMessage, Loading } from './status';
import { Period } from './values';

/** A live subscription's open period, rated so far: its lines and total. */
export function UpcomingInvoice({ subscription: s }: { subscription: Subscription }) {
  const api = useApi();
  const [upcoming] = useLoad((signal) => api.upcoming(s.id, signal), [s.id]);
  const headingId = `upcoming-${s.id}`;
  return (
    <section class="card" data-testid="upcoming-invoice" data-subscription-id={s.id} aria-labelledby={headingId}>
      <h3 id={headingId}>
        {s.plan.code} v{s.plan.version} · <code>{s.id}</code>
      </h3>
      {upcoming.state === 'loading' ? (
        <Loading what="the upcoming invoice" />
      ) : upcoming.state === 'error' ? (
        upcoming.error instanceof ApiError && upcoming.error.code === 'TALLY_ERR_NO_UPCOMING_INVOICE' ? (
          <p class="muted">{upcoming.error.message}</p>
        ) : (
          <ErrorMessage error={upcoming.error} what="the upcoming invoice" />
        )
      ) : (
        <>
          <p>
            Period <Period start={upcoming.data.period_start} end={upcoming.data.period_end} />, {upcoming.data.currency}
          </p>
          <InvoiceLines invoice={upcoming.data} caption={`Upcoming invoice lines of ${s.id}`} />
          <InvoiceTotals invoice={upcoming.data} />
        </>
      )}
    </section>
  );
}
