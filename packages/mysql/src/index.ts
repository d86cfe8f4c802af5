export { checkSchema, createSchema } from './createSchema.js';
export { MySqlStoreSetupError, type MySqlStoreSetupErrorCode } from './errors.js';
export { MySqlStore, type MySqlStoreOptions } from './mysqlStore.js';
export { TransactionFailedError } from './mysqlTransaction.js';
export { DEFAULT_TABLE } from './names.js';
export { SCHEMA_VERSION, schemaSql, schemaStatements } from './schema.js';
