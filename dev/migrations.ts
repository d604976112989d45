/**
 * Migration tooling on a throwaway embedded PostgreSQL (or MIGRATIONS_DATABASE_URL):
 *   node dist/dev/migrations.js check          # CI: fail if entities drift from migrations
 *   node dist/dev/migrations.js generate Name  # write src/database/migrations/<ts>-Name.ts
 * Both first apply every committed migration, then diff the entities against the result.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options';
import { freePort, startPostgres } from './processes';

async function main(): Promise<void> {
  const [cmd, name] = process.argv.slice(2);
  if (cmd !== 'check' && !(cmd === 'generate' && name && /^[A-Za-z][A-Za-z0-9]*$/.test(name))) {
    process.stderr.write('usage: migrations check | migrations generate <PascalCaseName>\n');
    process.exit(2);
  }
  let url = process.env.MIGRATIONS_DATABASE_URL;
  let stop: (() => Promise<void>) | undefined;
  if (!url) {
    const dir = mkdtempSync(join(tmpdir(), 'kagi-migrations-'));
    const pg = await startPostgres({ dir, port: await freePort(), password: 'migrations' });
    url = pg.url;
    stop = async () => {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  const ds = new DataSource(dataSourceOptions(url));
  try {
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    const sql = await ds.driver.createSchemaBuilder().log();
    if (cmd === 'check') {
      if (sql.upQueries.length) {
        process.stderr.write(`migration drift: the entities need ${sql.upQueries.length} statement(s) no migration has:\n`);
        for (const q of sql.upQueries) process.stderr.write(`  ${q.query}\n`);
        process.stderr.write('run: npm run migration:generate -- <Name>\n');
        process.exitCode = 1;
      } else {
        process.stdout.write('migrations match the entities (no drift)\n');
      }
      return;
    }
    if (!sql.upQueries.length) {
      process.stdout.write('no changes: nothing to generate\n');
      return;
    }
    const ts = Date.now();
    const q = (s: string) => '`' + s.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${') + '`';
    const up = sql.upQueries.map(
      (x) => `    await queryRunner.query(${q(x.query)}${x.parameters?.length ? `, ${JSON.stringify(x.parameters)}` : ''});`,
    );
    const down = sql.downQueries
      .reverse()
      .map((x) => `    await queryRunner.query(${q(x.query)}${x.parameters?.length ? `, ${JSON.stringify(x.parameters)}` : ''});`);
    const file = join(process.cwd(), 'src', 'database', 'migrations', `${ts}-${name}.ts`);
    writeFileSync(
      file,
      `import type { MigrationInterface, QueryRunner } from 'typeorm';\n\nexport class ${name}${ts} implements MigrationInterface {\n  name = '${name}${ts}';\n\n  public async up(queryRunner: QueryRunner): Promise<void> {\n${up.join('\n')}\n  }\n\n  public async down(queryRunner: QueryRunner): Promise<void> {\n${down.join('\n')}\n  }\n}\n`,
    );
    process.stdout.write(`wrote ${file}\nadd ${name}${ts} to MIGRATIONS in src/database/registry.ts\n`);
  } finally {
    if (ds.isInitialized) await ds.destroy();
    await stop?.();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`migrations: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
