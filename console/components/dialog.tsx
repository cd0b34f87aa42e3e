import type { ComponentChildren } from 'preact';
import { useId, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../api';

interface Props {
  open: boolean;
  title: string;
  /** The confirm button's words, saying what it does ("Void invoice"). */
  confirmLabel: string;
  /** Runs the action; a throw is shown in the dialog (the API's code and message) and keeps it open. */
  onConfirm: (form: HTMLFormElement) => Promise<void>;
  onClose: () => void;
  danger?: boolean;
  children?: ComponentChildren;
}

/**
 * A confirmation in a native modal `<dialog>`: the browser traps focus, Escape cancels and focus
 * returns to the button that opened it. The fields given as children are checked by the
 * browser (required, pattern) before the action runs.
 */
export function ConfirmDialog({ open, title, confirmLabel, onConfirm, onClose, danger = false, children }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  // Opened in the same task as the click that asked for it (a layout effect), so a key pressed
  // right after already reaches the dialog.
  useLayoutEffect(() => {
    const element = dialog.current;
    if (element === null) return;
    if (open && !element.open) {
      setError(null);
      element.showModal();
    } else if (!open && element.open) {
      element.close();
    }
  }, [open]);

  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await onConfirm(event.currentTarget as HTMLFormElement);
      onClose();
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={dialog} aria-labelledby={titleId} onClose={onClose} onCancel={(e) => busy && e.preventDefault()} class="dialog">
      {open ? (
        <form onSubmit={(e) => void submit(e)} aria-busy={busy}>
          <h2 id={titleId}>{title}</h2>
          {children}
          {error === null ? null : (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <div class="dialog-buttons">
            <button type="button" onClick={onClose} disabled={busy}>
              Cancel
            </button>
            <button type="submit" class={danger ? 'danger' : 'primary'} disabled={busy}>
              {busy ? 'Working…' : confirmLabel}
            </button>
          </div>
        </form>
      ) : null}
    </dialog>
  );
}
