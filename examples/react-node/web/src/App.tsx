import { CallTimeline } from './components/CallTimeline';
import { ChaosPanel } from './components/ChaosPanel';
import { CheckoutCard } from './components/CheckoutCard';
import { LedgerTable } from './components/LedgerTable';
import { StoreBadge } from './components/StoreBadge';
import { useNetwork } from './network';
import { useServerStatus } from './status';

/** The checkout page: pay with the faults under it on the left, what happened on the right, the ledger below. */
export function App() {
  const status = useServerStatus();
  const network = useNetwork();
  // The chaos panel exists only when the server runs as the demo (npm start), and whenever this tab's own
  // "Go offline" is on: a page reloaded offline cannot ask the server, and must still offer the way back.
  const demo = status.data?.demo === true;
  const chaosPanel = demo || network === 'switched-off';
  return (
    <div className="page">
      <header className="topbar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            ✓
          </span>
          Brewline
        </div>
        <StoreBadge />
      </header>

      <section className="hero">
        <h1>Pay once, however the network behaves.</h1>
        <p>
          Every click of one payment sends the same <code>Idempotency-Key</code>.
          {demo
            ? ' Break the network with the chaos switches, double-click Pay, or pay from two tabs:'
            : ' Double-click Pay, or pay from two tabs:'}{' '}
          the ledger still gets exactly one payment.
        </p>
      </section>

      <main className="grid">
        <CheckoutCard />
        <CallTimeline />
        {chaosPanel ? <ChaosPanel leaseSeconds={Math.round((status.data?.leaseMs ?? 5000) / 1000)} /> : null}
        <LedgerTable />
      </main>
    </div>
  );
}
