import { databaseInstalled, startMySqlDatabase } from './support/sqlDatabases.js';
import { describeDatabaseRestart } from './support/sqlRestart.js';

// The MariaDB run of support/sqlRestart.ts: kill -9 of a private mariadbd under load, then a restart on the
// same data directory (InnoDB crash recovery: the redo log replays what committed, open transactions roll back).
describeDatabaseRestart(
  'MariaDB (mariadbd) killed (kill -9) under load and restarted',
  () => startMySqlDatabase(200),
  !databaseInstalled('mysql', 'test/reliability/mysqlRestart.test.ts'),
);
