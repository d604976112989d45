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
 */
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { TestProject } from 'vitest/node';
import { findMoto, freePort, provisionMoto, startAnvil, startMoto, startPostgres, type StartedProcess } from '../../src/dev/processes';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    kmsEndpoint: string;
    kmsKeyId: string;
    kmsRegion: string;
    rpcUrl: string;
    chainId: number;
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
    // allSettled: when one part fails, the others finish starting and are torn down too.
    const settled = await Promise.allSettled([setupDatabase(cleanups), setupKms(cleanups), setupChain(cleanups)]);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [db, kms, chain] = settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [string, { endpoint: string; keyId: string; region: string }, string];
    project.provide('databaseUrl', db);
    project.provide('kmsEndpoint', kms.endpoint);
    project.provide('kmsKeyId', kms.keyId);
    project.provide('kmsRegion', kms.region);
    project.provide('rpcUrl', chain);
    project.provide('chainId', 31337);
    log(`PostgreSQL, KMS (${kms.endpoint}) and Anvil ready in ${Date.now() - started} ms`);
  } catch (e) {
    await teardown();
    throw e;
  }
  return teardown;
}

async function setupDatabase(cleanups: Array<() => Promise<void>>): Promise<string> {
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    // /tmp is reachable by user `postgres` (embedded PostgreSQL runs as that user under root).
    const dir = mkdtempSync(join(tmpdir(), 'kagi-test-pg-'));
    const pg = await startPostgres({ dir, port: await freePort(), password: 'kagi-test' });
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
  const key = await kms.send(new CreateKeyCommand({ Description: 'kagi e2e master key', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' }));
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
