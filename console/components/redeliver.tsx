import { useState } from 'preact/hooks';
import { describeError, idempotencyKey } from '../api';
import { useApi } from '../hooks';

/**
 * Queues an outbound event for delivery again to every endpoint it went to; the outcome is
 * announced next to the button.
 */
export function RedeliverButton({ event, onDone }: { event: string; onDone?: () => void }) {
  const api = useApi();
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const redeliver = async () => {
    setBusy(true);
    setMessage(null);
    try {
      const after = await api.redeliver(event, idempotencyKey());
      const queued = after.deliveries.filter((d) => d.state === 'pending').length;
      // An event no endpoint took (none was subscribed, or they were deleted since) has nowhere to go.
      setMessage(
        queued === 0
          ? { ok: false, text: 'Nothing to deliver it to: no endpoint of this tenant takes it.' }
          : { ok: true, text: `Queued for delivery again to ${queued} endpoint${queued === 1 ? '' : 's'}.` },
      );
      onDone?.();
    } catch (error) {
      setMessage({ ok: false, text: describeError(error) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="redeliver">
      <button type="button" disabled={busy} onClick={() => void redeliver()} aria-label={`Redeliver ${event}`}>
        {busy ? 'Queueing…' : 'Redeliver'}
      </button>{' '}
      <span role="status" class={message?.ok === false ? 'error' : 'ok'}>
        {message?.text ?? ''}
      </span>
    </span>
  );
}
