import { type ReactNode, useId } from 'react';

interface HintProps {
  /** The word that carries the explanation, for example a "replayed" badge. */
  children: ReactNode;
  /** The explanation, shown on hover and on keyboard focus, and read out with the word. */
  explain: ReactNode;
  className?: string;
  testId?: string;
}

/** A word with its explanation at hand: hover or focus it to read it; screen readers get it as its description. */
export function Hint({ children, explain, className = '', testId }: HintProps) {
  const id = useId();
  return (
    <span className="hint">
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: focusable so that keyboard users can read the explanation. */}
      <span className={`hint-term ${className}`} tabIndex={0} aria-describedby={id} data-testid={testId}>
        {children}
      </span>
      <span role="tooltip" id={id} className="tooltip">
        {explain}
      </span>
    </span>
  );
}

/** What "replayed" means, wherever the page says it. */
export const REPLAYED_HELP =
  'The server had already made this payment, so instead of paying again it sent back the answer it stored then. No new charge.';

/** What a fence is, wherever the page shows one. */
export const FENCE_HELP =
  'A number that grows each time a server takes this payment over (after a lost lease). The ledger refuses a write whose fence is lower than the newest it has seen, so a server that was stopped and wakes up late cannot pay twice.';

/** The "replayed" badge, explaining itself. */
export function ReplayedBadge({ testId }: { testId?: string }) {
  return (
    <Hint className="badge replayed" explain={REPLAYED_HELP} testId={testId}>
      replayed
    </Hint>
  );
}

/** What a rolled-back late write is, wherever the page shows one (the example on PostgreSQL or SQLite). */
export const ROLLBACK_HELP =
  'On PostgreSQL and SQLite the payment is written in the same transaction that stores the answer to its key. A server that lost its lease (it was stopped, and a retry took the payment over) cannot commit that transaction, so its late write is rolled back and never reaches the ledger.';
