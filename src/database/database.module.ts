/**
 * The TypeORM data source. Migrations run at start, under a PostgreSQL advisory lock
 * so several instances starting together apply them once, with retries while the
 * database is still coming up. Never `synchronize`.
 */
import { Global, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { dataSourceOptions } from './data-source-options';
import { UnitOfWork } from './unit-of-work';

const MIGRATION_LOCK = 0x6b616769; // "kagi"

export async function runMigrations(ds: DataSource, logger = new Logger('Database')): Promise<void> {
  const qr = ds.createQueryRunner();
  await qr.connect();
  try {
    await qr.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const applied = await ds.runMigrations({ transaction: 'each' });
    if (applied.length) logger.log(`applied migrations: ${applied.map((m) => m.name).join(', ')}`);
  } finally {
    await qr.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await qr.release();
  }
}

/**
 * The migrations run on connections of their own (two: the advisory lock holds one) without
 * the request deadlines: a migration may take minutes on a large table, and an instance waiting
 * for another's migration lock must not time out. The application's pool (`options`) keeps
 * DATABASE_QUERY_TIMEOUT.
 */
function migrationOptions(options: DataSourceOptions): DataSourceOptions {
  const extra = (options.extra ?? {}) as { connectionTimeoutMillis?: number };
  return {
    ...options,
    extra: { max: 2, connectionTimeoutMillis: extra.connectionTimeoutMillis, application_name: 'kagi-migrations' },
  };
}

async function connectWithRetry(options: DataSourceOptions): Promise<DataSource> {
  const logger = new Logger('Database');
  const deadline = Date.now() + 60_000;
  for (let attempt = 1; ; attempt++) {
    const migrator = new DataSource(migrationOptions(options));
    const ds = new DataSource(options);
    try {
      await migrator.initialize();
      await runMigrations(migrator, logger);
      await migrator.destroy();
      await ds.initialize();
      return ds;
    } catch (e) {
      if (migrator.isInitialized) await migrator.destroy().catch(() => undefined);
      if (ds.isInitialized) await ds.destroy().catch(() => undefined);
      const msg = e instanceof Error ? e.message : String(e);
      if (Date.now() > deadline || /does not exist|authentication failed|password/i.test(msg)) throw e;
      logger.warn(`database not ready (attempt ${attempt}): ${msg.split('\n')[0]}; retrying`);
      await new Promise((r) => setTimeout(r, Math.min(500 * attempt, 3000)));
    }
  }
}

// Global: UnitOfWork is the one way a service opens a database transaction (like the data source).
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        ...dataSourceOptions(config.databaseUrl, {}, config.database),
        offline: config.offline === true,
        manualInitialization: config.offline === true,
        // connectWithRetry below owns retries and migrations.
        retryAttempts: 0,
      }),
      dataSourceFactory: async (options) => {
        if (!options) throw new Error('no data source options');
        const { offline, ...rest } = options as typeof options & { offline: boolean };
        // `cli --help` builds the module graph without touching a database.
        if (offline) return new DataSource(rest);
        return connectWithRetry(rest);
      },
    }),
  ],
  providers: [UnitOfWork],
  exports: [UnitOfWork],
})
export class DatabaseModule {}
