import { Client, type ClientConfig } from 'pg';
import type { DataSourceOptions } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { ENTITIES, MIGRATIONS } from './registry';

export type DatabaseTimeouts = AppConfig['database'];

/** The configuration's defaults (DATABASE_QUERY_TIMEOUT, DATABASE_CONNECT_TIMEOUT), for callers without a config. */
const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = { queryTimeoutMs: 8_000, connectTimeoutMs: 5_000 };

const QUERY_READ_TIMEOUT = 'Query read timeout';

/**
 * A pg client that gives its connection up when a query outlives `query_timeout`. pg's own
 * timeout only fails the caller: the query stays on the connection, and every later query there
 * (the failed transaction's ROLLBACK first) queues behind it until the server answers, which a
 * stopped server never does. Destroying the socket fails those at once, the pool drops the
 * client (a new connection is then bounded by `connectionTimeoutMillis`), and the server rolls
 * the open transaction back when it runs again. pg has no option for this outside its
 * pipeline mode, hence a subclass.
 */
export class DeadlineClient extends Client {
  constructor(config?: string | ClientConfig) {
    super(config);
    // The destroyed socket is reported as an 'error' event; whoever holds the client (TypeORM's
    // query runner, the pool's idle listener) handles it too, but never an unheard event crash.
    this.on('error', () => undefined);
    const query = this.query.bind(this) as (...args: unknown[]) => unknown;
    const abandon = (e: unknown) => {
      if (e instanceof Error && e.message === QUERY_READ_TIMEOUT) this.connection.stream.destroy();
    };
    this.query = ((...args: unknown[]) => {
      const last = args.at(-1);
      if (typeof last === 'function')
        args[args.length - 1] = (err: unknown, res: unknown) => {
          abandon(err);
          (last as (err: unknown, res: unknown) => void)(err, res);
        };
      const out = query(...args);
      if (out instanceof Promise) out.catch(abandon);
      return out;
    }) as Client['query'];
  }
}

/**
 * `timeouts` are client-side deadlines (a stopped server enforces no statement_timeout): per
 * query (pg `query_timeout`, answered 503 DATABASE_UNAVAILABLE by the problem filter) and to
 * open a connection or wait for a free one. The server's `statement_timeout` sits a second
 * below the query deadline, so a merely slow query is cancelled by the server first, with a
 * clean error and its connection kept.
 */
export function dataSourceOptions(
  url: string,
  extra: Partial<DataSourceOptions> = {},
  timeouts: DatabaseTimeouts = DEFAULT_DATABASE_TIMEOUTS,
): DataSourceOptions {
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
    extra: {
      max: 20,
      Client: DeadlineClient,
      connectionTimeoutMillis: timeouts.connectTimeoutMs,
      query_timeout: timeouts.queryTimeoutMs,
      statement_timeout: Math.max(timeouts.queryTimeoutMs - 1_000, Math.ceil(timeouts.queryTimeoutMs / 2)),
      application_name: 'kagi',
    },
    // Off: a failing query's parameters (hashes, ciphertexts) must not reach the console; errors surface through our own handling.
    logging: false,
    ...extra,
  } as DataSourceOptions;
}
