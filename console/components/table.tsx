import type { ComponentChildren } from 'preact';

/**
 * A data table in a wrapper that scrolls sideways on a narrow screen. The wrapper is a
 * focusable, labelled region so a keyboard can scroll it too; the caption names the table.
 */
export function Table({ caption, testId, children, visuallyHiddenCaption = false }: { caption: string; testId?: string; children: ComponentChildren; visuallyHiddenCaption?: boolean }) {
  return (
    <div class="table-wrap" role="region" aria-label={caption} tabIndex={0}>
      <table data-testid={testId}>
        <caption class={visuallyHiddenCaption ? 'visually-hidden' : undefined}>{caption}</caption>
        {children}
      </table>
    </div>
  );
}

/** A header row of column headings; those named in `numeric` align right, over their figures. */
export const Head = ({ columns, numeric = [] }: { columns: readonly string[]; numeric?: readonly string[] }) => (
  <thead>
    <tr>
      {columns.map((c) => (
        <th key={c} scope="col" class={numeric.includes(c) ? 'num' : undefined}>
          {c}
        </th>
      ))}
    </tr>
  </thead>
);

/** The row shown instead of data when a table has none. */
export const EmptyRow = ({ span, children }: { span: number; children: ComponentChildren }) => (
  <tr>
    <td colSpan={span} class="muted">
      {children}
    </td>
  </tr>
);
