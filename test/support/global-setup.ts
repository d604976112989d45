/**
 * One PostgreSQL, one KMS API and one Anvil per e2e run (not per file), torn down
 * afterwards, also when a test fails. What each test file gets is handed over with
 * vitest's `provide`/`inject`; see test/support/env.ts.
 *
 * - PostgreSQL: TEST_DATABASE_URL (never DATABASE_URL), else embedded PostgreSQL on a
 *   free port. Either way a fresh, uniquely named database, dropped afterwards.
 * - KMS: KMS_ENDPOINT (LocalStack, moto), else `moto_server` on a free port (provisioned
 *   into .venv when missing). Without either the run fails with one line, never skips.
 * - Chain: Anvil from the @foundry-rs/anvil npm package on a free port.
 * - Browser: Debian's Chromium for the Swagger UI test, apt-installed when missing and root
 *   (test/support/chromium.ts); where impossible only that test fails, with one line.
 * - Secret sweep: TMPDIR points at one fresh directory for the whole run (inherited by
 *   the test workers and every child they spawn), so "the run's temp files" are exactly
 *   that tree; a recording directory outside it (test/support/recording.ts) collects
 *   answers, log lines and child output. Both are deleted by the teardown.
 */
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { TestProject } from 'vitest/node';
import { findMoto, freePort, provisionMoto, startAnvil, startMoto, startPostgres, type StartedProcess } from '../../dev/processes';
import { provisionChromium } from './chromium';
import { RECORD_DIR_ENV, recordService, RUN_TMP_ENV } from './recording';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    kmsEndpoint: string;
    kmsKeyId: string;
    kmsRegion: string;
    rpcUrl: string;
    chainId: number;
    /** The run's TMPDIR: every temp file of the run lives below it (scanned by the sweep). */
    runTmpDir: string;
    /** Where answers, log lines and child output are recorded (test/support/recording.ts). */
    recordDir: string;
    /** Empty when Debian's Chromium is there; else the one line the browser test fails with. */
    chromiumProblem: string;
  }
}

const log = (s: string) => process.stderr.write(`[e2e setup] ${s}\n`);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cleanups: Array<() => Promise<void>> = [];
  const teardown = async () => {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => log(`teardown: ${String(e)}`));
  };
  try {
    const started = Date.now();
    const dirs = setupRunDirs(cleanups);
    // allSettled: when one part fails, the others finish starting and are torn down too.
    const browser = provisionChromium(log);
    const settled = await Promise.allSettled([setupDatabase(cleanups), setupKms(cleanups), setupChain(cleanups)]);
    const chromiumProblem = await browser;
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [db, kms, chain] = settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
      string,
      { endpoint: string; keyId: string; region: string },
      string,
    ];
    project.provide('databaseUrl', db);
    project.provide('kmsEndpoint', kms.endpoint);
    project.provide('kmsKeyId', kms.keyId);
    project.provide('kmsRegion', kms.region);
    project.provide('rpcUrl', chain);
    project.provide('chainId', 31337);
    project.provide('runTmpDir', dirs.runTmp);
    project.provide('recordDir', dirs.recordDir);
    project.provide('chromiumProblem', chromiumProblem ?? '');
    log(`PostgreSQL, KMS (${kms.endpoint}) and Anvil ready in ${Date.now() - started} ms`);
  } catch (e) {
    await teardown();
    throw e;
  }
  return teardown;
}

/**
 * Deleted last (pushed first): the sweep has scanned them by then. Set in process.env
 * before any worker exists, so workers, apps and spawned children all inherit them.
 */
function setupRunDirs(cleanups: Array<() => Promise<void>>): { runTmp: string; recordDir: string } {
  const base = tmpdir();
  const runTmp = mkdtempSync(join(base, 'kagi-e2e-run-'));
  // Traversable by user postgres (embedded PostgreSQL, the dev supervisor test), as /tmp is.
  chmodSync(runTmp, 0o711);
  const recordDir = mkdtempSync(join(base, 'kagi-rec-'));
  cleanups.push(async () => {
    rmSync(recordDir, { recursive: true, force: true });
    rmSync(runTmp, { recursive: true, force: true });
  });
  process.env.TMPDIR = runTmp;
  process.env[RUN_TMP_ENV] = runTmp;
  process.env[RECORD_DIR_ENV] = recordDir;
  log(`run temp dir ${runTmp}, recordings in ${recordDir}`);
  return { runTmp, recordDir };
}

async function setupDatabase(cleanups: Array<() => Promise<void>>): Promise<string> {
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    // /tmp is reachable by user `postgres` (embedded PostgreSQL runs as that user under root).
    const dir = mkdtempSync(join(tmpdir(), 'kagi-test-pg-'));
    const pg = await startPostgres({ dir, port: await freePort(), password: 'kagi-test' });
    // PostgreSQL's own log (errors with their DETAIL lines, which quote key values) is swept too.
    const recordDir = process.env[RECORD_DIR_ENV];
    if (recordDir) recordService('postgres', pg.child.stderr, recordDir);
    cleanups.push(async () => {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    adminUrl = pg.url;
  }
  const name = `kagi_test_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  cleanups.push(async () => {
    const c = new Client({ connectionString: adminUrl });
    await c.connect();
    // Files that need a database of their own (test/support/db.ts) name it `${name}_x_…`.
    const extra = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, [`${name}_x_`]);
    for (const { datname } of extra.rows) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function setupKms(cleanups: Array<() => Promise<void>>): Promise<{ endpoint: string; keyId: string; region: string }> {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  let endpoint = process.env.KMS_ENDPOINT;
  if (!endpoint) {
    const root = process.cwd();
    const bin = findMoto(root) ?? provisionMoto(root, log);
    if (!bin) {
      throw new Error(
        'e2e tests need a real KMS API: install moto (`pip install "moto[server]==5.2.1"`, giving moto_server) or set KMS_ENDPOINT to LocalStack',
      );
    }
    const moto: StartedProcess = await startMoto(bin, await freePort());
    cleanups.push(() => moto.stop());
    endpoint = moto.url;
  }
  const kms = new KMSClient({ endpoint, region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const key = await kms.send(
    new CreateKeyCommand({ Description: 'kagi e2e master key', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' }),
  );
  const keyId = key.KeyMetadata?.Arn;
  if (!keyId) throw new Error('KMS CreateKey returned no key ARN');
  const alias = `alias/kagi-e2e-${Date.now()}`;
  await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.KeyMetadata?.KeyId }));
  kms.destroy();
  return { endpoint, keyId, region };
}

async function setupChain(cleanups: Array<() => Promise<void>>): Promise<string> {
  // Mixed mining: automine plus a block every second, so parallel sends never stall.
  const anvil = await startAnvil({ port: await freePort(), extraArgs: ['--mixed-mining', '--block-time', '1'] });
  cleanups.push(() => anvil.stop());
  return anvil.url;
}
