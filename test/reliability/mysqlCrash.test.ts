import { CRASH_INTENTS, describeHolderCrash } from './support/sqlCrash.js';
import { databaseInstalled, startMySqlDatabase } from './support/sqlDatabases.js';

// The MariaDB run of support/sqlCrash.ts (InnoDB, REPEATABLE READ): kill -9 and SIGSTOP of a holder of many
// transactions, on a private mariadbd with one connection per running handler and room to spare.
describeHolderCrash(
  'crash on MariaDB: a holder dies (kill -9) or stalls (SIGSTOP) mid-handler, with transaction: true',
  () => startMySqlDatabase(8 * CRASH_INTENTS + 50),
  !databaseInstalled('mysql', 'test/reliability/mysqlCrash.test.ts'),
);
