import { CRASH_INTENTS, describeHolderCrash } from './support/sqlCrash.js';
import { databaseInstalled, startPostgresDatabase } from './support/sqlDatabases.js';

// The PostgreSQL counterpart of crash.test.ts (support/sqlCrash.ts): kill -9 and SIGSTOP of a holder of
// many transactions. A private cluster: the victim alone holds one connection per intent, more than a shared
// server allows.
describeHolderCrash(
  'crash on PostgreSQL: a holder dies (kill -9) or stalls (SIGSTOP) mid-handler, with transaction: true',
  () => startPostgresDatabase(8 * CRASH_INTENTS + 50),
  !databaseInstalled('postgres', 'test/reliability/postgresCrash.test.ts'),
);
