/**
 * `npm run bench -- kms`: seal, open and open+sign per second against moto's KMS API
 * (started here on a free port) and the local keyring; KMS calls per operation; the
 * data-key cache off (the default) and on. Each row is a real run, nothing mocked.
 */
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGwei } from 'viem';
import { AuditSink, type AuditRecord } from '../src/audit/audit-sink';
import { loadConfig } from '../src/config/app-config';
import { findMoto, freePort, startMoto } from '../src/dev/processes';
import { Metrics } from '../src/common/metrics';
import { AwsKms } from '../src/kms/aws-kms';
import { DataKeyCache } from '../src/kms/data-key-cache';
import { Envelope } from '../src/kms/envelope';
import type { KeyManagement } from '../src/kms/key-management';
import { LocalKeyring } from '../src/kms/local-keyring';
import { SigningKeys, signingKeyContext } from '../src/kms/signing-keys';
import type { BenchRow, Suite } from './run';

class NullAudit extends AuditSink {
  record(_e: AuditRecord): Promise<void> {
    return Promise.resolve();
  }
  recordMany(_e: readonly AuditRecord[]): Promise<void> {
    return Promise.resolve();
  }
  recordWith<R>(): Promise<R[]> {
    return Promise.reject(new Error('not used by this bench'));
  }
}

const owner = { kind: 'operator' as const, id: '00000000-0000-4000-8000-000000000001' };
const tx = {
  chainId: 31337,
  nonce: 0,
  to: '0x000000000000000000000000000000000000dEaD' as const,
  value: 1n,
  gas: 21000n,
  maxFeePerGas: parseGwei('2'),
  maxPriorityFeePerGas: 1n,
  type: 'eip1559' as const,
};

async function rate(n: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(20, n); i++) await fn(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function measure(label: string, kms: KeyManagement, cache: { age: number; uses: number }, n: number): Promise<BenchRow[]> {
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'kagi-bench-')),
    KMS_DATA_KEY_CACHE_MAX_AGE_MS: String(cache.age),
    KMS_DATA_KEY_CACHE_MAX_USES: String(cache.uses),
  });
  const metrics = new Metrics();
  const envelope = new Envelope(kms, new DataKeyCache(config), metrics);
  const keys = new SigningKeys(envelope, new NullAudit(), metrics);
  const { address, sealed } = await keys.create(owner);
  const ctx = signingKeyContext(owner, address);
  const calls = async () => {
    const m = await metrics.registry.getSingleMetric('kagi_kms_calls_total')?.get();
    return (m?.values ?? []).reduce((s, v) => s + v.value, 0);
  };
  const cacheLabel = cache.uses > 0 ? `on (${cache.age} ms / ${cache.uses} uses)` : 'off';
  const rows: BenchRow[] = [];
  const run = async (op: string, count: number, fn: () => Promise<unknown>) => {
    const before = await calls();
    const perSec = await rate(count, fn);
    const warm = Math.min(20, count);
    rows.push({
      kms: label,
      cache: cacheLabel,
      operation: op,
      n: count,
      'ops/s': Math.round(perSec),
      'kms calls/op': Number(((await calls()) - before) / (count + warm)),
    });
  };
  if (cache.uses === 0) await run('seal (new key)', Math.max(50, n / 4), () => keys.create(owner));
  await run('open', n, async () => (await envelope.open(sealed, ctx)).fill(0));
  await run('open+sign tx', n, () =>
    keys.withSigner(owner, sealed, { actor: { type: 'system' }, purpose: 'bench' }, (a) => a.signTransaction(tx)),
  );
  return rows;
}

const suite: Suite = async () => {
  const n = Number(process.env.BENCH_KMS_N ?? 1000);
  const rows: BenchRow[] = [];
  const local = new LocalKeyring(mkdtempSync(join(tmpdir(), 'kagi-bench-ring-')));
  rows.push(...(await measure('local keyring', local, { age: 0, uses: 0 }, n)));
  rows.push(...(await measure('local keyring', local, { age: 60_000, uses: 100 }, n)));

  const notes: string[] = [];
  const bin = findMoto(process.cwd());
  if (!bin) {
    notes.push('moto_server not found: the moto rows were not measured (install moto[server]==5.2.1)');
  } else {
    const moto = await startMoto(bin, await freePort());
    try {
      process.env.AWS_ACCESS_KEY_ID ??= 'test';
      process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
      const client = new KMSClient({ endpoint: moto.url, region: 'us-east-1' });
      const key = await client.send(new CreateKeyCommand({ Description: 'kagi bench' }));
      client.destroy();
      const config = loadConfig({
        NODE_ENV: 'test',
        DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused',
        DATA_DIR: mkdtempSync(join(tmpdir(), 'kagi-bench-')),
        KMS_PROVIDER: 'aws',
        KMS_ENDPOINT: moto.url,
        KMS_KEY_ID: key.KeyMetadata?.Arn,
        AWS_REGION: 'us-east-1',
      });
      const aws = new AwsKms(config);
      const nm = Math.min(n, 400);
      rows.push(...(await measure('moto (AWS KMS API)', aws, { age: 0, uses: 0 }, nm)));
      rows.push(...(await measure('moto (AWS KMS API)', aws, { age: 60_000, uses: 100 }, nm)));
    } finally {
      await moto.stop();
    }
  }
  notes.push(
    'cache off is the default: one KMS Decrypt per signing. Turning it on keeps a data key in memory for up to max-age/max-uses openings.',
  );
  return { settings: { n, serial: true, signer: 'secp256k1 via @noble/curves, viem toAccount' }, rows, notes };
};

export default suite;
