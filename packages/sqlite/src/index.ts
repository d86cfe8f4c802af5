export { checkSchema, createSchema, type Synchronous } from './createSchema.js';
export { SqliteStoreSetupError, type SqliteStoreSetupErrorCode, TransactionFailedError } from './errors.js';
export { DEFAULT_TABLE } from './names.js';
export { SCHEMA_VERSION, schemaSql } from './schema.js';
export { SqliteStore, type SqliteStoreOptions } from './sqliteStore.js';
