import { databaseInstalled, startPostgresDatabase } from './support/sqlDatabases.js';
import { describeDatabaseRestart } from './support/sqlRestart.js';

// The PostgreSQL run of support/sqlRestart.ts: kill -9 of the postmaster of a private cluster under load,
// then a restart with crash recovery.
describeDatabaseRestart(
  'PostgreSQL postmaster killed (kill -9) under load and restarted',
  () => startPostgresDatabase(200),
  !databaseInstalled('postgres', 'test/reliability/postgresRestart.test.ts'),
);
