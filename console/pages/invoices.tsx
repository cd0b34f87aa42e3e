import type { InvoiceStatus } from '../api-types';
import { InvoiceTable } from '../components/invoice-table';
import { Page } from '../components/page';
import { Pager, useCursor } from '../components/pager';
import { Show } from '../components/status';
import { useApi, useKept, useLoad } from '../hooks';

const STATUSES: readonly InvoiceStatus[] = ['draft', 'open', 'paid', 'void', 'uncollectible'];

/** Every invoice of the tenant, or those in one status, 50 a page. */
export function Invoices() {
  const api = useApi();
  const [status, setStatus] = useKept<InvoiceStatus | ''>('invoices:status', '');
  const cursor = useCursor('invoices');
  const [invoices] = useLoad((signal) => api.invoices({ status: status === '' ? undefined : status }, cursor.cursor, signal), [status, cursor.cursor]);
  return (
    <Page title="Invoices">
      <form class="filters" aria-label="Invoice filter" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="invoice-status">Status</label>
          <select
            id="invoice-status"
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value as InvoiceStatus | '');
              cursor.reset();
            }}
          >
            <option value="">All</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
      </form>
      <Show loaded={invoices} what="invoices">
        {(page) => (
          <>
            <InvoiceTable invoices={page.data} caption={status === '' ? 'All invoices' : `Invoices, ${status} only`} />
            <Pager label="Invoice pages" page={cursor.page} hasMore={page.has_more} lastId={page.data[page.data.length - 1]?.id ?? undefined} onNext={cursor.next} onPrevious={cursor.previous} />
          </>
        )}
      </Show>
    </Page>
  );
}
