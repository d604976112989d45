/**
 * `npm run bench -- pipeline [--n N]`: the signing pipeline against its ceiling, on one Anvil.
 *   (a) raw: viem signs `mint` calls with an in-memory key and sends them serially with
 *       eth_sendRawTransaction (one signer) — what Anvil accepts;
 *   (b) kagi: HTTP POST /v1/tokens/{id}/issue end to end to `confirmed`, one key opening per
 *       operation, data-key cache off, with the local keyring and with moto's KMS API;
 *       1 and 4 signers (operators).
 * Reports ops/s, ratio b/a, p50/p99 accepted→confirmed, KMS calls/op and peak RSS.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createPublicClient, createWalletClient, defineChain, encodeFunctionData, http, parseEther, type Address } from 'viem';
import { generatePrivateKey, mnemonicToAccount, privateKeyToAccount } from 'viem/accounts';
import { DataSource } from 'typeorm';
import { AppModule } from '../src/app.module';
import { securityTokenAbi, securityTokenBytecode } from '../src/chain/contracts/security-token.abi';
import { loadConfig } from '../src/config/app-config';
import { configPreset } from '../src/config/config.module';
import { configureApp } from '../src/configure-app';
import { findMoto, freePort, startAnvil, startMoto, startPostgres } from '../src/dev/processes';
import { Metrics } from '../src/health/metrics';
import type { BenchRow, Suite } from './run';

const MNEMONIC = 'test test test test test test test test test test test junk';
const argN = () => {
  const i = process.argv.indexOf('--n');
  return i > 0 ? Number(process.argv[i + 1]) : Number(process.env.BENCH_PIPELINE_N ?? 400);
};

async function json(base: string, method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(base + path, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: (await r.json().catch(() => ({}))) as Record<string, string>, headers: r.headers };
}

/** `--only local` or `--only moto`, and `--signers 1,4`, narrow the run (e.g. for the 10,000-operation RSS check). */
const argOf = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

async function raw(rpcUrl: string, n: number): Promise<number> {
  const chain = defineChain({ id: 31337, name: 'anvil', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [rpcUrl] } } });
  const pub = createPublicClient({ transport: http(rpcUrl), pollingInterval: 50, cacheTime: 0 });
  const funder = mnemonicToAccount(MNEMONIC);
  const agent = privateKeyToAccount(generatePrivateKey()); // bench-only throwaway key
  const fw = createWalletClient({ account: funder, chain, transport: http(rpcUrl) });
  await pub.waitForTransactionReceipt({ hash: await fw.sendTransaction({ to: agent.address, value: parseEther('100') }) });
  const dep = await pub.waitForTransactionReceipt({
    hash: await createWalletClient({ account: agent, chain, transport: http(rpcUrl) }).deployContract({ abi: securityTokenAbi, bytecode: securityTokenBytecode, args: ['Raw', 'RAW', 0, funder.address, agent.address] }),
  });
  const token = dep.contractAddress as Address;
  const holder = privateKeyToAccount(generatePrivateKey()).address;
  const data = encodeFunctionData({ abi: securityTokenAbi, functionName: 'mint', args: [holder, 1n] });
  const gas = (await pub.estimateGas({ account: agent.address, to: token, data })) * 2n;
  const fees = await pub.estimateFeesPerGas();
  let nonce = await pub.getTransactionCount({ address: agent.address, blockTag: 'pending' });
  const t0 = performance.now();
  let last: `0x${string}` = '0x';
  for (let i = 0; i < n; i++) {
    const signed = await agent.signTransaction({ chainId: 31337, type: 'eip1559', nonce: nonce++, to: token, data, gas, maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas });
    last = await pub.sendRawTransaction({ serializedTransaction: signed });
  }
  await pub.waitForTransactionReceipt({ hash: last });
  return n / ((performance.now() - t0) / 1000);
}

async function kagi(env: Record<string, string>, signers: number, n: number, label: string): Promise<BenchRow> {
  configPreset.value = loadConfig(env);
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bodyParser: false, logger: false });
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer() as { address(): { port: number } }).address().port}`;
  try {
    const admin = (await json(base, 'POST', '/v1/auth/login', undefined, { loginId: 'bench-admin', password: 'bench-platform-password' })).body.accessToken!;
    const lanes: Array<{ token: string; tokenId: string; userId: string }> = [];
    for (let i = 0; i < signers; i++) {
      const loginId = `bench-op-${Date.now()}-${i}`;
      await json(base, 'POST', '/v1/operators', admin, { name: `Bench ${i}`, email: `b${i}@example.com`, password: 'bench-operator-pw', loginId });
      const token = (await json(base, 'POST', '/v1/auth/login', undefined, { loginId, password: 'bench-operator-pw' })).body.accessToken!;
      const user = (await json(base, 'POST', '/v1/users', token, { name: 'bench', email: 'u@example.com' })).body.id!;
      await fetch(`${base}/v1/users/${user}/wallet`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{}' }).then((r) => r.arrayBuffer());
      const tk = await json(base, 'POST', '/v1/tokens', token, { name: 'Bench', symbol: 'BNC', decimals: 0 }, { prefer: 'wait=60' });
      lanes.push({ token, tokenId: tk.body.id!, userId: user });
    }
    const metrics = app.get(Metrics);
    const kmsCalls = async () => ((await metrics.registry.getSingleMetric('kagi_kms_calls_total')?.get())?.values ?? []).filter((v) => v.labels.op === 'decrypt').reduce((s, v) => s + v.value, 0);
    const calls0 = await kmsCalls();
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
    const ids: string[] = [];
    const t0 = performance.now();
    // Clients keep up to 32 requests in flight.
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        for (;;) {
          const i = next++;
          if (i >= n) return;
          const lane = lanes[i % lanes.length]!;
          const r = await json(base, 'POST', `/v1/tokens/${lane.tokenId}/issue`, lane.token, { userId: lane.userId, amount: '1' });
          if (r.status !== 202) throw new Error(`issue answered ${r.status}: ${JSON.stringify(r.body)}`);
          ids.push(r.body.id!);
        }
      }),
    );
    const acceptedSeconds = (performance.now() - t0) / 1000;
    const ds = app.get(DataSource);
    for (;;) {
      const [r] = await ds.query<Array<{ open: number }>>(`SELECT count(*)::int AS open FROM transactions WHERE id = ANY($1) AND status NOT IN ('confirmed', 'failed')`, [ids]);
      if (!r?.open) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const lat = await ds.query<Array<{ ms: number; status: string }>>(`SELECT EXTRACT(EPOCH FROM (updated_at - created_at)) * 1000 AS ms, status FROM transactions WHERE id = ANY($1)`, [ids]);
    const failed = lat.filter((l) => l.status !== 'confirmed').length;
    const ms = lat.map((l) => Number(l.ms));
    return { pipeline: `kagi over HTTP (${label})`, signers, n, 'ops/s': Math.round(n / seconds), 'accepted/s': Math.round(n / acceptedSeconds), 'p50 ms': Math.round(pct(ms, 50)), 'p99 ms': Math.round(pct(ms, 99)), 'kms decrypt/op': Number(((await kmsCalls()) - calls0) / n), failed, 'peak RSS MB': Math.round(peak / 1e6) };
  } finally {
    await app.close();
    configPreset.value = undefined;
  }
}

const suite: Suite = async () => {
  const n = argN();
  const pgDir = mkdtempSync(join(tmpdir(), 'kagi-bench-pg-'));
  const pg = await startPostgres({ dir: pgDir, port: await freePort(), password: 'bench' });
  const anvil = await startAnvil({ port: await freePort() });
  const motoBin = findMoto(process.cwd());
  const moto = motoBin ? await startMoto(motoBin, await freePort()) : undefined;
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  try {
    const { Client } = await import('pg');
    const c = new Client({ connectionString: pg.url });
    await c.connect();
    await c.query('CREATE DATABASE kagi_bench');
    await c.end();
    const baseEnv = {
      NODE_ENV: 'test',
      DATABASE_URL: pg.url.replace(/\/postgres$/, '/kagi_bench'),
      CHAIN_RPC_URL: anvil.url,
      CHAIN_ID: '31337',
      JWT_SIGNING_KEY: 'bench-jwt-signing-key-0123456789abcdef0123456789',
      PLATFORM_ADMIN_LOGIN_ID: 'bench-admin',
      PLATFORM_ADMIN_PASSWORD: 'bench-platform-password',
      WALLET_HTTP_ISSUANCE: 'true',
      DEV_GAS_FUNDING: 'true',
      LOG_LEVEL: 'silent',
      RATE_LIMIT_PER_MINUTE: '1000000',
      LOGIN_RATE_LIMIT_PER_MINUTE: '1000000',
      ARGON2_MEMORY_KIB: '1024',
      ARGON2_ITERATIONS: '1',
    };
    const rawRate = await raw(anvil.url, Math.min(n, 1000));
    rows.push({ pipeline: 'raw viem sign + eth_sendRawTransaction (serial)', signers: 1, n: Math.min(n, 1000), 'ops/s': Math.round(rawRate), 'accepted/s': '', 'p50 ms': '', 'p99 ms': '', 'kms decrypt/op': 0, failed: 0, 'peak RSS MB': '' });
    const only = argOf('--only');
    const signerCounts = (argOf('--signers') ?? '1,4').split(',').map(Number);
    const local = { ...baseEnv, KMS_PROVIDER: 'local', DATA_DIR: mkdtempSync(join(tmpdir(), 'kagi-bench-data-')) };
    if (only !== 'moto') for (const s of signerCounts) rows.push(await kagi(local, s, n, 'local keyring'));
    if (moto && only !== 'local') {
      process.env.AWS_ACCESS_KEY_ID ??= 'test';
      process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
      const kc = new KMSClient({ endpoint: moto.url, region: 'us-east-1' });
      const key = await kc.send(new CreateKeyCommand({ Description: 'kagi pipeline bench' }));
      kc.destroy();
      const awsEnv = { ...baseEnv, KMS_PROVIDER: 'aws', KMS_ENDPOINT: moto.url, KMS_KEY_ID: key.KeyMetadata!.Arn!, AWS_REGION: 'us-east-1', DATA_DIR: mkdtempSync(join(tmpdir(), 'kagi-bench-data-')) };
      for (const s of [1, 4]) rows.push(await kagi(awsEnv, s, n, 'moto KMS API'));
    } else {
      notes.push('moto_server not found: the moto rows were not measured');
    }
    for (const r of rows) if (typeof r['ops/s'] === 'number' && r.pipeline !== rows[0]?.pipeline) r['ratio b/a'] = Number(((r['ops/s']) / rawRate).toFixed(2));
    notes.push('kagi rows include HTTP acceptance (auth, pre-check chain reads, idempotency-free), one KMS Decrypt per signing, nonce allocation in PostgreSQL, storing the raw tx before broadcast, and receipt watching; all processes share the 2 cores.');
  } finally {
    await moto?.stop();
    await anvil.stop();
    await pg.stop();
    rmSync(pgDir, { recursive: true, force: true });
  }
  return { settings: { n, inFlight: 32, anvil: 'automine', dataKeyCache: 'off' }, rows, notes };
};

export default suite;
