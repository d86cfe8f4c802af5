import { useQuery } from '@tanstack/react-query';
import type { CSSProperties } from 'react';
import type { RefusedWrite } from '../../../server/src/ledger';
import { type PaymentCall, usePaymentCalls } from '../callLog';
import { keyHue, shortKey } from '../money';
import { describeAttempt, summarizeCall } from '../outcomes';
import { callLog, trpc } from '../trpc';
import { FENCE_HELP, Hint, ReplayedBadge, ROLLBACK_HELP } from './Hint';

const time = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** The payments this tab sent, newest first: one group per call, its tries in words, the technical detail beside. */
export function CallTimeline() {
  const calls = usePaymentCalls(callLog);
  // The ledger card polls this query; the timeline reads the same cache.
  const refused = useQuery(trpc.payments.refusedWrites.queryOptions()).data ?? [];
  return (
    <section className="card timeline" aria-labelledby="timeline-title">
      <div className="card-head">
        <h2 id="timeline-title">
          What happened <span className="muted">newest first</span>
        </h2>
        {calls.some((call) => call.state !== 'running') ? (
          <button type="button" className="link" onClick={() => callLog.clear()}>
            Clear
          </button>
        ) : null}
      </div>
      {calls.length === 0 ? (
        <p className="empty">Each payment you send shows up here: every try, and what came back.</p>
      ) : (
        <ol className="calls" data-testid="timeline">
          {calls.map((call) => (
            <CallGroup key={call.id} call={call} refused={refused.filter((write) => write.key === call.key)} />
          ))}
        </ol>
      )}
    </section>
  );
}

function CallGroup({ call, refused }: { call: PaymentCall; refused: RefusedWrite[] }) {
  const summary = summarizeCall(call);
  return (
    <li className={`call ${summary.tone}`} data-testid="call" data-key={call.key} data-state={call.state}>
      <div className="call-head">
        <strong>Pay {call.label}</strong>
        <span className="muted">{time.format(call.startedAt)}</span>
        {call.resumed ? (
          <span className="pill warn" data-testid="call-resumed" title="Started before a reload; this page sent it on">
            resumed after a reload
          </span>
        ) : null}
        {call.clicks > 1 ? (
          <span className="pill" data-testid="call-clicks" title="Clicks that shared this one payment">
            {call.clicks} clicks, one payment
          </span>
        ) : null}
      </div>
      <p className="call-summary" data-testid="call-summary">
        {summary.text}
      </p>
      <ol className="attempts">
        {call.attempts.map((row) => {
          const { text, tone, detail } = describeAttempt(row);
          return (
            <li
              key={row.attempt}
              className={`attempt ${tone}`}
              data-testid="attempt"
              data-key={call.key}
              data-attempt={row.attempt}
              data-outcome={row.outcome}
            >
              <span className="dot" aria-hidden="true" />
              <span className="attempt-text">
                {text}
                {row.replayed ? <ReplayedBadge /> : null}
              </span>
              <span className="attempt-detail">{detail}</span>
            </li>
          );
        })}
      </ol>
      {call.state === 'succeeded'
        ? refused.map((write) => (
            <p className="call-refused" key={write.fence} data-testid="call-refused">
              {write.how === 'rolled-back' ? (
                <>
                  A late write of this payment (<Hint explain={ROLLBACK_HELP}>fence</Hint> {write.fence}) came after the
                  retry had taken over; its transaction was rolled back.
                </>
              ) : (
                <>
                  A late write of this payment (<Hint explain={FENCE_HELP}>fence</Hint> {write.fence}) reached the
                  ledger after the retry had paid, and was refused.
                </>
              )}
            </p>
          ))
        : null}
      <p className="call-key">
        key{' '}
        <code className="key-chip" style={{ '--hue': keyHue(call.key) } as CSSProperties} title={call.key}>
          {shortKey(call.key)}
        </code>
      </p>
    </li>
  );
}
