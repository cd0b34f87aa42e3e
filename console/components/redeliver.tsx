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
      await api.redeliver(event, idempotencyKey());
      setMessage({ ok: true, text: 'Queued for delivery again.' });
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
