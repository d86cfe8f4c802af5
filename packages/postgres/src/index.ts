export { checkSchema, createSchema } from './createSchema.js';
export { PostgresStoreSetupError, type PostgresStoreSetupErrorCode } from './errors.js';
export { DEFAULT_TABLE } from './names.js';
export { PostgresStore, type PostgresStoreOptions } from './postgresStore.js';
export { SCHEMA_VERSION, schemaSql } from './schema.js';
export { transactionPool } from './transactionPool.js';
