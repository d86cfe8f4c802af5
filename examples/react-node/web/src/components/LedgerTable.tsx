import { useQuery } from '@tanstack/react-query';
import type { CSSProperties } from 'react';
import type { RefusedWrite } from '../../../server/src/ledger';
import { formatMoney, keyHue, shortKey } from '../money';
import { useNetwork } from '../network';
import { trpc } from '../trpc';
import { FENCE_HELP, Hint, ROLLBACK_HELP } from './Hint';

const time = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });

function KeyChip({ value }: { value: string }) {
  return (
    <code className="key-chip" style={{ '--hue': keyHue(value) } as CSSProperties} title={value}>
      {shortKey(value)}
    </code>
  );
}

/** One late write in words: what it was, and why it never became a payment. */
function LateWrite({ write }: { write: RefusedWrite }) {
  const money = formatMoney(write.amount, write.currency);
  if (write.how === 'rolled-back') {
    return (
      <span>
        A write of {money} with fence <strong>{write.fence}</strong> came late: its server had lost its lease, so its
        transaction was rolled back
        {write.newestFence === null ? (
          '.'
        ) : (
          <>
            {' '}
            (fence <strong>{write.newestFence}</strong> paid this payment).
          </>
        )}{' '}
        Nothing was charged twice.
      </span>
    );
  }
  return (
    <span>
      A write of {money} with fence <strong>{write.fence}</strong> came late and was refused: fence{' '}
      <strong>{write.newestFence}</strong> had already paid this payment. Nothing was charged twice.
    </span>
  );
}

/**
 * Every payment the server recorded, from this page, another tab or curl, and the late writes that never
 * became payments (refused by the fence check, or rolled back on PostgreSQL and SQLite); polled so that all of them
 * show. When the ledger cannot be read, or this tab is offline, the last good list stays, marked with its time.
 */
export function LedgerTable() {
  const online = useNetwork() === 'online';
  const payments = useQuery({ ...trpc.payments.list.queryOptions(), refetchInterval: 1000 });
  const refused = useQuery({ ...trpc.payments.refusedWrites.queryOptions(), refetchInterval: 1000 });
  const rows = payments.data ?? [];
  const refusals = refused.data ?? [];
  const asOf = payments.dataUpdatedAt ? time.format(payments.dataUpdatedAt) : null;

  return (
    <section className="card ledger" aria-labelledby="ledger-title">
      <div className="card-head">
        <h2 id="ledger-title">Ledger</h2>
        <span className="muted" data-testid="ledger-count">
          {payments.data ? `${rows.length} ${rows.length === 1 ? 'payment' : 'payments'}` : ''}
        </span>
      </div>
      {!online ? (
        <p className="notice info" role="status" data-testid="ledger-offline">
          {payments.data
            ? `This tab is offline. These are the payments as of ${asOf}.`
            : 'This tab is offline, so the payments cannot be shown.'}
        </p>
      ) : payments.isError ? (
        <p className="notice warn" role="status" data-testid="ledger-stale">
          {payments.data
            ? `The ledger cannot be reached right now. These are the payments as of ${asOf}.`
            : 'The ledger cannot be reached right now, so the payments cannot be shown.'}
        </p>
      ) : null}
      {!payments.data ? (
        payments.isError || !online ? null : (
          <p className="empty">Loading the ledger…</p>
        )
      ) : rows.length === 0 ? (
        <p className="empty">No payments yet.</p>
      ) : (
        <table className="ledger-table">
          <thead>
            <tr>
              <th>Payment</th>
              <th className="num">Amount</th>
              <th>Note</th>
              <th>Payment key</th>
              <th className="num">
                <Hint explain={FENCE_HELP}>Fence</Hint>
              </th>
              <th>Time</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((payment) => (
              <tr key={payment.id} data-testid="ledger-row" data-key={payment.key} data-payment-id={payment.id}>
                <td data-label="Payment">
                  <code>{payment.id}</code>
                </td>
                <td className="num" data-label="Amount">
                  {formatMoney(payment.amount, payment.currency)}
                </td>
                <td className="note" data-label="Note">
                  {payment.note || <span className="muted">—</span>}
                </td>
                <td data-label="Key">
                  <KeyChip value={payment.key} />
                </td>
                <td className="num" data-label="Fence" data-testid="ledger-fence">
                  {payment.fence}
                </td>
                <td className="muted" data-label="Time">
                  {time.format(payment.createdAt)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {refusals.length > 0 ? (
        <div className="refusals">
          <h3>
            {refusals[0]!.how === 'rolled-back' ? 'Late writes rolled back' : 'Refused late writes'}{' '}
            <Hint explain={refusals[0]!.how === 'rolled-back' ? ROLLBACK_HELP : FENCE_HELP} className="muted">
              why?
            </Hint>
          </h3>
          <ul>
            {refusals.map((write) => (
              <li
                key={`${write.key}:${write.fence}:${write.refusedAt.getTime()}`}
                data-testid="refused-write"
                data-how={write.how}
                data-key={write.key}
                data-fence={write.fence}
              >
                <LateWrite write={write} />
                <span className="muted">
                  <KeyChip value={write.key} /> {time.format(write.refusedAt)}
                </span>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </section>
  );
}
