/**
 * A data table that scrolls sideways on narrow screens instead of breaking the layout. The
 * scrolling box is a named, focusable region so keyboard users can scroll it too (WCAG 2.1.1),
 * named by the table's caption.
 */
import { useId, type ReactNode } from 'react';

interface ScrollTableProps {
  caption: string;
  children: ReactNode;
  testId?: string;
}

export function ScrollTable({ caption, children, testId }: ScrollTableProps) {
  const id = useId();
  return (
    <div className="table-scroll" role="region" aria-labelledby={id} tabIndex={0}>
      <table data-testid={testId}>
        <caption id={id}>{caption}</caption>
        {children}
      </table>
    </div>
  );
}
