/**
 * `npm run bench -- batches`: bulk issuance on one Anvil, local keyring, the API in its own process.
 *   (1) acceptance: a 10,000-row CSV issue batch, POST → 202 (every row validated, 100 lots
 *       queued), warm, median of 3 (each run waits for the previous batch to finish first);
 *   (2) throughput: rows confirmed per second, (a) raw viem batchMint calls of 100 rows signed
 *       with an in-memory key and sent serially, vs (b) a 10,000-row batch through kagi from
 *       POST to `completed`. Target (issue 19): b/a ≥ 0.9; acceptance < 2 s.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { encodeFunctionData, type Address } from 'viem';
import { securityTokenAbi } from '../src/chain/contracts/security-token.abi';
import { freePort, startAnvil, startPostgres } from '../dev/processes';
import { rawAgent, startApi } from './api-harness';
import { treeCpuSeconds } from './proc';
import type { BenchRow, Suite } from './run';

const ROWS = 10_000;
const LOT = 100;
const USERS = 100;

async function json(base: string, method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json().catch(() => ({}))) as Record<string, unknown> };
}

/** (a) batchMint lots of 100 rows, signed in memory and sent serially: what Anvil accepts. */
async function raw(rpcUrl: string, holders: Address[], anvilPid: number): Promise<{ rate: number; anvilMsPerLot: number }> {
  const { pub, agent, token } = await rawAgent(rpcUrl);
  const to = Array.from({ length: LOT }, (_, i) => holders[i % holders.length]!);
  const data = encodeFunctionData({ abi: securityTokenAbi, functionName: 'batchMint', args: [to, to.map(() => 1n)] });
  const gas = ((await pub.estimateGas({ account: agent.address, to: token, data })) * 3n) / 2n;
  const fees = await pub.estimateFeesPerGas();
  let nonce = await pub.getTransactionCount({ address: agent.address, blockTag: 'pending' });
  const anvil0 = treeCpuSeconds(anvilPid) ?? 0;
  const t0 = performance.now();
  let last: `0x${string}` = '0x';
  for (let i = 0; i < ROWS / LOT; i++) {
    const signed = await agent.signTransaction({
      chainId: 31337,
      type: 'eip1559',
      nonce: nonce++,
      to: token,
      data,
      gas,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    last = await pub.sendRawTransaction({ serializedTransaction: signed });
  }
  const receipt = await pub.waitForTransactionReceipt({ hash: last });
  if (receipt.status !== 'success') throw new Error('raw batchMint reverted');
  const rate = ROWS / ((performance.now() - t0) / 1000);
  return { rate, anvilMsPerLot: (((treeCpuSeconds(anvilPid) ?? 0) - anvil0) * 1000) / (ROWS / LOT) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const suite: Suite = async () => {
  const pg = await startPostgres({ dir: mkdtempSync(join(tmpdir(), 'kagi-bench-pg-')), port: await freePort(), password: 'bench' });
  const anvil = await startAnvil({ port: await freePort() });
  const rows: BenchRow[] = [];
  try {
    const c = new PgClient({ connectionString: pg.url });
    await c.connect();
    await c.query('CREATE DATABASE kagi_bench');
    await c.end();
    const api = await startApi({
      NODE_ENV: 'test',
      DATABASE_URL: pg.url.replace(/\/postgres$/, '/kagi_bench'),
      CHAIN_RPC_URL: anvil.url,
      CHAIN_ID: '31337',
      JWT_SIGNING_KEY: 'bench-jwt-signing-key-0123456789abcdef0123456789',
      PLATFORM_ADMIN_LOGIN_ID: 'bench-admin',
      PLATFORM_ADMIN_PASSWORD: 'bench-platform-password',
      WALLET_HTTP_ISSUANCE: 'true',
      DEV_GAS_FUNDING: 'true',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_MINUTE: '1000000',
      LOGIN_RATE_LIMIT_PER_MINUTE: '1000000',
      ARGON2_MEMORY_KIB: '1024',
      ARGON2_ITERATIONS: '1',
      KMS_PROVIDER: 'local',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'kagi-bench-data-')),
    });
    const base = api.base;
    try {
      const admin = (await json(base, 'POST', '/v1/auth/login', undefined, { loginId: 'bench-admin', password: 'bench-platform-password' }))
        .body.accessToken as string;
      const loginId = `bench-bulk-${Date.now()}`;
      await json(base, 'POST', '/v1/operators', admin, { name: 'Bulk', email: 'b@example.com', password: 'bench-operator-pw', loginId });
      const first = (await json(base, 'POST', '/v1/auth/login', undefined, { loginId, password: 'bench-operator-pw' })).body
        .accessToken as string;
      await json(base, 'POST', '/v1/auth/password', first, { currentPassword: 'bench-operator-pw', newPassword: 'bench-operator-pw-own' });
      const token = (await json(base, 'POST', '/v1/auth/login', undefined, { loginId, password: 'bench-operator-pw-own' })).body
        .accessToken as string;
      const users: Array<{ id: string; address: Address }> = [];
      for (let i = 0; i < USERS; i++) {
        const id = (await json(base, 'POST', '/v1/users', token, { name: `投資家${i}`, email: 'u@example.com' })).body.id as string;
        const w = await fetch(`${base}/v1/users/${id}/wallet`, {
          method: 'POST',
          headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
          body: '{}',
        });
        await w.arrayBuffer();
        users.push({ id, address: w.headers.get('x-wallet-address') as Address });
      }
      const tk = await json(base, 'POST', '/v1/tokens', token, { name: 'Bulk', symbol: 'BLK', decimals: 0 }, { prefer: 'wait=60' });
      if (tk.body.status !== 'active') throw new Error(`token deploy answered ${tk.status}`);
      const csv = Buffer.from(
        ['userId,amount', ...Array.from({ length: ROWS }, (_, i) => `${users[i % USERS]!.id},${1 + (i % 9)}`)].join('\n') + '\n',
      );
      const post = async () => {
        const t0 = performance.now();
        const r = await fetch(`${base}/v1/tokens/${String(tk.body.id)}/batches?kind=issue`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' },
          body: csv,
        });
        const body = (await r.json()) as { id: string };
        if (r.status !== 202) throw new Error(`batch answered ${r.status}: ${JSON.stringify(body)}`);
        return { id: body.id, ms: performance.now() - t0, t0 };
      };
      const done = async (id: string) => {
        for (;;) {
          const b = await json(base, 'GET', `/v1/batches/${id}`, token);
          if (b.body.status !== 'running') {
            if (b.body.status !== 'completed') throw new Error(`batch ended ${JSON.stringify(b.body)}`);
            return performance.now();
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      // Warm-up run, then 3 measured: each posted while nothing else runs.
      await done((await post()).id);
      const accept: number[] = [];
      const throughput: number[] = [];
      // CPU per lot by process over the three measured batches (acceptance included).
      const cpu = () => ({
        API: treeCpuSeconds(api.pid) ?? 0,
        Anvil: treeCpuSeconds(anvil.child.pid) ?? 0,
        PostgreSQL: treeCpuSeconds(pg.child.pid) ?? 0,
      });
      const cpu0 = cpu();
      for (let i = 0; i < 3; i++) {
        const p = await post();
        accept.push(p.ms);
        throughput.push(ROWS / (((await done(p.id)) - p.t0) / 1000));
      }
      const cpu1 = cpu();
      const lots = (3 * ROWS) / LOT;
      const perLot = Object.fromEntries(
        (Object.keys(cpu0) as Array<keyof typeof cpu0>).map((k) => [
          `${k} CPU ms/lot`,
          Number((((cpu1[k] - cpu0[k]) * 1000) / lots).toFixed(1)),
        ]),
      );
      const { rate: a, anvilMsPerLot } = await raw(
        anvil.url,
        users.map((u) => u.address),
        anvil.child.pid!,
      );
      const b = median(throughput);
      rows.push({
        measure: '(1) 10,000-row CSV issue: POST → 202 (validated, 100 lots queued), median of 3',
        ms: Math.round(median(accept)),
        runs: accept.map((x) => Math.round(x)).join(' / '),
        target: '< 2000 ms',
        met: median(accept) < 2000,
      });
      rows.push({
        measure: '(2a) raw viem batchMint, lots of 100, serial',
        'rows/s': Math.round(a),
        'Anvil CPU ms/lot': Number(anvilMsPerLot.toFixed(1)),
      });
      rows.push({
        measure: '(2b) kagi batch, POST → completed, median of 3',
        'rows/s': Math.round(b),
        ...perLot,
        'ratio b/a': Number((b / a).toFixed(2)),
        target: '≥ 0.9',
        met: b / a >= 0.9,
      });
    } finally {
      await api.stop();
    }
  } finally {
    await anvil.stop();
    await pg.stop();
  }
  return { settings: { rows: ROWS, lot: LOT, users: USERS, kms: 'local', anvil: 'automine' }, rows };
};

export default suite;
