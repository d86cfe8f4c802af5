import { useQuery } from '@tanstack/react-query';
import type { CSSProperties } from 'react';
import { formatMoney, keyHue, shortKey } from '../money';
import { useTRPC } from '../trpc';

const time = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** Every payment the server recorded, from this page, another tab or curl; polled so that all of them show. */
export function LedgerTable() {
  const trpc = useTRPC();
  const payments = useQuery({ ...trpc.payments.list.queryOptions(), refetchInterval: 1000 });
  const rows = payments.data ?? [];
  return (
    <section className="card ledger" aria-labelledby="ledger-title">
      <div className="card-head">
        <h2 id="ledger-title">Ledger</h2>
        <span className="muted" data-testid="ledger-count">
          {rows.length} {rows.length === 1 ? 'payment' : 'payments'}
        </span>
      </div>
      {rows.length === 0 ? (
        <p className="empty">No payments yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Payment</th>
              <th className="num">Amount</th>
              <th>Note</th>
              <th>Idempotency key</th>
              <th className="num">Fence</th>
              <th>Time</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((payment) => (
              <tr key={payment.id} data-testid="ledger-row" data-key={payment.key} data-payment-id={payment.id}>
                <td>
                  <code>{payment.id}</code>
                </td>
                <td className="num">{formatMoney(payment.amount, payment.currency)}</td>
                <td className="note">{payment.note || <span className="muted">—</span>}</td>
                <td>
                  <code
                    className="key-chip"
                    style={{ '--hue': keyHue(payment.key) } as CSSProperties}
                    title={payment.key}
                  >
                    {shortKey(payment.key)}
                  </code>
                </td>
                <td className="num">{payment.fence}</td>
                <td className="muted">{time.format(payment.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
