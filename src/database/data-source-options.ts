import type { DataSourceOptions } from 'typeorm';
import { ENTITIES, MIGRATIONS } from './registry';

export function dataSourceOptions(url: string, extra: Partial<DataSourceOptions> = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    // gen_random_uuid() is built into PostgreSQL ≥ 13: no extension (and no superuser) needed.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    // Keep the pool small enough for several instances and the tests on one server.
    extra: { max: 20, connectionTimeoutMillis: 5_000, statement_timeout: 30_000, application_name: 'kagi' },
    // Off: a failing query's parameters (hashes, ciphertexts) must not reach the console; errors surface through our own handling.
    logging: false,
    ...extra,
  } as DataSourceOptions;
}
