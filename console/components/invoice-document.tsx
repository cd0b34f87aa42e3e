import { useEffect, useState } from 'preact/hooks';
import { isAbort } from '../api';
import { useApi } from '../hooks';
import { ErrorMessage, Loading } from './status';

/**
 * The rendered invoice (its PDF), fetched with the key and shown from a blob: URL (a frame
 * cannot send the Authorization header, and the key never goes into a URL). Fetched again when
 * `version` changes (an action changed the invoice); the URL is released when it is replaced.
 */
export function InvoiceDocument({ id, name, version }: { id: string; name: string; version: string }) {
  const api = useApi();
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const controller = new AbortController();
    let made: string | null = null;
    setError(null);
    api.invoicePdf(id, controller.signal).then(
      (blob) => {
        made = URL.createObjectURL(blob.type === 'application/pdf' ? blob : new Blob([blob], { type: 'application/pdf' }));
        setUrl(made);
      },
      (failure: unknown) => {
        if (!isAbort(failure)) setError(failure);
      },
    );
    return () => {
      controller.abort();
      if (made !== null) URL.revokeObjectURL(made);
    };
  }, [id, version]);

  if (error !== null) return <ErrorMessage error={error} what="the invoice document" />;
  if (url === null) return <Loading what="the invoice document" />;
  return (
    <div class="document" data-testid="invoice-document">
      <p>
        <a href={url} download={`${name}.pdf`} class="button">
          Download PDF
        </a>
      </p>
      <iframe src={url} title={`Invoice ${name} (PDF)`} class="pdf" />
    </div>
  );
}
