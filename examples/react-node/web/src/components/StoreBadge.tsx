import { useNetwork } from '../network';
import { useServerStatus } from '../status';
import { Hint } from './Hint';

/** How the badge names each backend the server can use. */
const NAMES: Record<string, string> = { redis: 'Redis', postgres: 'PostgreSQL', sqlite: 'SQLite' };

/** What the server really stores payments and keys in, and whether it can reach it right now. */
export function StoreBadge() {
  const status = useServerStatus();
  const network = useNetwork();
  const data = status.data;
  let state: string;
  let text: string;
  let explain: string;
  if (network !== 'online') {
    // TanStack Query does not ask while offline, so the last answer would look current: say so instead.
    state = 'offline';
    text = 'Offline (this tab)';
    explain =
      network === 'switched-off'
        ? 'This tab has no network (the chaos panel’s “Go offline”). Payments wait and are sent, once, when it is back; what the page shows is from its last answers.'
        : 'This device has no network. Payments wait and are sent, once, when it is back; what the page shows is from its last answers.';
  } else if (status.isError) {
    state = 'server-down';
    text = 'Server unreachable';
    explain = 'The page cannot reach the server. What it shows is from its last good answer.';
  } else if (!data) {
    state = 'unknown';
    text = 'Store: checking…';
    explain = 'Asking the server which store it uses.';
  } else if (data.backend === 'memory') {
    state = 'memory';
    text = 'Store: in memory';
    explain =
      'Payments and idempotency records live in this server process and are gone when it stops (EXAMPLE_STORE=memory). Start it without it to keep them in a SQLite file, or with DATABASE_URL (PostgreSQL) or REDIS_URL.';
  } else {
    const name = NAMES[data.backend] ?? data.backend;
    if (data.store && data.ledger) {
      state = data.backend;
      text = `Store: ${name}`;
      explain = `Payments and idempotency records are in ${name}, and the server reaches it.`;
    } else {
      state = `${data.backend}-down`;
      text = data.store ? `Store: ${name} · ledger unreachable` : `Store: ${name} · unreachable`;
      explain = data.store
        ? `The server cannot reach the ledger in ${name}: the payment list may be out of date.`
        : `The server cannot reach ${name}: payments are refused (nothing is charged) until it is back.`;
    }
  }
  const tone =
    state === 'unknown' ? '' : state === 'offline' || state === 'server-down' || state.endsWith('-down') ? 'bad' : 'ok';
  return (
    <Hint className={`store-badge ${tone}`} explain={explain} testId="backend">
      <span className="store-dot" aria-hidden="true" />
      <span data-state={state} data-testid="backend-state">
        {text}
      </span>
    </Hint>
  );
}
