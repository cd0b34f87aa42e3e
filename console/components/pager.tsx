import { useKept } from '../hooks';

/**
 * Paging by cursor (`starting_after` = the last id of the previous page), as the list
 * endpoints do it. Going back pops the cursors stacked on the way forward. The stack is kept in
 * the history entry (`key` names the list), so Back from a row's page returns to the same page.
 */
export function useCursor(key: string): { cursor: string | undefined; page: number; next: (lastId: string) => void; previous: () => void; reset: () => void } {
  // null, not undefined, for the first page: history state keeps nulls.
  const [kept, setStack] = useKept<(string | null)[]>(`pages:${key}`, [null]);
  const stack = kept.map((c) => c ?? undefined);
  return {
    cursor: stack[stack.length - 1],
    page: stack.length,
    next: (lastId) => setStack((s) => [...s, lastId]),
    previous: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    reset: () => setStack([null]),
  };
}

export function Pager({ page, hasMore, lastId, onNext, onPrevious, label }: { page: number; hasMore: boolean; lastId: string | undefined; onNext: (lastId: string) => void; onPrevious: () => void; label: string }) {
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" disabled={page <= 1} onClick={onPrevious}>
        Previous page
      </button>
      <span aria-live="polite">Page {page}</span>
      <button type="button" disabled={!hasMore || lastId === undefined} onClick={() => lastId !== undefined && onNext(lastId)}>
        Next page
      </button>
    </nav>
  );
}
