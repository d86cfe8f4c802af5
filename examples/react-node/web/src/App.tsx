import { AttemptTimeline } from './components/AttemptTimeline';
import { ChaosPanel } from './components/ChaosPanel';
import { CheckoutCard } from './components/CheckoutCard';
import { LedgerTable } from './components/LedgerTable';

/** The checkout page: pay on the left with the faults beside it, watch the attempts and the ledger on the right. */
export function App() {
  return (
    <div className="page">
      <header className="topbar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            ✓
          </span>
          Brewline
        </div>
        <span className="topbar-note">trpc-idempotency example</span>
      </header>

      <section className="hero">
        <h1>Pay once, however the network behaves.</h1>
        <p>
          Every click of one checkout sends the same <code>Idempotency-Key</code>. Break the network below, double-click
          Pay, or pay from two tabs: the ledger still gets exactly one payment.
        </p>
      </section>

      <main className="grid">
        <div className="column">
          <CheckoutCard />
          <ChaosPanel />
        </div>
        <div className="column">
          <AttemptTimeline />
        </div>
        <div className="span-all">
          <LedgerTable />
        </div>
      </main>
    </div>
  );
}
