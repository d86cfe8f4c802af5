import type { CSSProperties } from 'react';
import type { AttemptRow } from '../attemptLog';
import { useAttempts } from '../attemptLog';
import { keyHue, shortKey } from '../money';
import { attemptLog } from '../trpc';

const REASONS: Record<string, string> = {
  network: 'response lost',
  timeout: 'timed out',
  in_progress: '409 in progress',
  store_unavailable: '503 store down',
  rate_limited: '429 rate limited',
  server_error: 'server error',
};

function describe(row: AttemptRow): { label: string; tone: 'pending' | 'ok' | 'warn' | 'bad' } {
  switch (row.outcome) {
    case 'started':
      return { label: 'sending…', tone: 'pending' };
    case 'succeeded':
      return { label: row.replayed ? 'ok' : 'ok · new payment', tone: 'ok' };
    case 'retrying':
      return { label: failure(row), tone: 'warn' };
    case 'failed':
      return { label: `${failure(row)} · gave up`, tone: 'bad' };
    case 'aborted':
      return { label: 'aborted', tone: 'bad' };
  }
}

function failure(row: AttemptRow): string {
  const reason = row.reason ? (REASONS[row.reason] ?? row.reason) : 'failed';
  const showStatus = row.status && row.reason !== 'network' && !reason.startsWith(String(row.status));
  return showStatus ? `${row.status} ${reason}` : reason;
}

/** The attempts this tab made, newest first: key, attempt number, outcome and the planned wait before the next one. */
export function AttemptTimeline() {
  const { inFlight, ended } = useAttempts(attemptLog);
  const rows = [...inFlight, ...ended];
  return (
    <section className="card timeline" aria-labelledby="timeline-title">
      <div className="card-head">
        <h2 id="timeline-title">
          Attempts <span className="muted">newest first</span>
        </h2>
        {ended.length > 0 ? (
          <button type="button" className="link" onClick={() => attemptLog.clear()}>
            Clear
          </button>
        ) : null}
      </div>
      {rows.length === 0 ? (
        <p className="empty">Each try of a payment shows up here, with its key and what came back.</p>
      ) : (
        <ol className="attempts" data-testid="timeline">
          {rows.map((row) => {
            const { label, tone } = describe(row);
            return (
              <li
                key={row.id}
                className={`attempt ${tone}`}
                data-testid="attempt"
                data-key={row.key}
                data-attempt={row.attempt}
                data-outcome={row.outcome}
              >
                <span className="dot" aria-hidden="true" />
                <span className="attempt-no">#{row.attempt}</span>
                <code className="key-chip" style={{ '--hue': keyHue(row.key) } as CSSProperties} title={row.key}>
                  {shortKey(row.key)}
                </code>
                <span className="outcome">
                  {label}
                  {row.replayed ? <span className="badge replayed">replayed</span> : null}
                </span>
                <span className="delay">
                  {row.outcome === 'retrying' ? `retry in ${Math.round(row.delayMs)} ms` : ''}
                  {row.durationMs !== undefined && row.outcome !== 'retrying' ? `${Math.round(row.durationMs)} ms` : ''}
                </span>
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}
