/**
 * kill -9 of the API while batches are being accepted and their lots signed, restart, client
 * retries with the same Idempotency-Keys: every batch exists once and every row is on chain
 * exactly once (balances and totalSupply read independently with viem).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createPublicClient, http as viemHttp, type Address } from 'viem';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { freePort } from '../../dev/processes';
import { http, testEnv } from '../support/app';
import { adminToken, createOperator } from '../support/api';

const root = process.cwd();

function startApi(env: Record<string, string | undefined>): { child: ChildProcess; url: string; ready: Promise<void> } {
  const child = spawn(process.execPath, [join(root, 'dist', 'src', 'main.js')], {
    env: { ...process.env, ...env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${env.PORT}`;
  const ready = (async () => {
    for (let i = 0; i < 300; i++) {
      if (
        (await fetch(`${url}/health/ready`)
          .then((r) => r.status)
          .catch(() => 0)) === 200
      )
        return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('API did not become ready');
  })();
  return { child, url, ready };
}

describe('batches across a kill -9', () => {
  let env: Record<string, string | undefined>;
  let api: ReturnType<typeof startApi>;

  beforeAll(async () => {
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'ignore' });
    env = testEnv({ PORT: String(await freePort()), LOG_LEVEL: 'silent' });
    api = startApi(env);
    await api.ready;
  }, 180_000);
  afterAll(() => {
    api?.child.kill('SIGKILL');
  });

  it('every row of every accepted batch is on chain exactly once', async () => {
    const admin = await adminToken(api.url);
    const op = await createOperator(api.url, admin);
    const users: Array<{ id: string; address: Address }> = [];
    for (let i = 0; i < 10; i++) {
      const u = await http(api.url, 'POST', '/v1/users', { token: op.token, body: { name: `クラッシュ${i}`, email: 'c@example.jp' } });
      const w = await fetch(`${api.url}/v1/users/${u.body.id}/wallet`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: '{}',
      });
      await w.arrayBuffer();
      users.push({ id: u.body.id, address: w.headers.get('x-wallet-address') as Address });
    }
    const tk = await http(api.url, 'POST', '/v1/tokens', {
      token: op.token,
      body: { name: 'Crash', symbol: 'CRB', decimals: 0 },
      headers: { prefer: 'wait=30' },
    });
    const token = tk.body.address as Address;
    const B = 4;
    const ROWS = 500;
    const expected = new Map<Address, bigint>();
    const csvs = Array.from({ length: B }, (_, b) => {
      const lines = ['userId,amount'];
      for (let i = 0; i < ROWS; i++) {
        const u = users[(i + b) % users.length]!;
        const amount = BigInt(1 + ((i * 13 + b) % 17));
        expected.set(u.address, (expected.get(u.address) ?? 0n) + amount);
        lines.push(`${u.id},${amount}`);
      }
      return lines.join('\n') + '\n';
    });
    const send = (base: string, b: number) =>
      fetch(`${base}/v1/tokens/${tk.body.id}/batches?kind=issue`, {
        method: 'POST',
        headers: { authorization: `Bearer ${op.token}`, 'content-type': 'text/csv', 'idempotency-key': `crash-batch-${b}` },
        body: csvs[b],
      })
        .then(async (r) => ({ status: r.status, body: (await r.json()) as { id: string } }))
        .catch(() => undefined);
    const inflight = Array.from({ length: B }, (_, b) => send(api.url, b));
    // Kill while the first batches' lots are being signed and the last ones are still being accepted.
    await Promise.race([inflight[0], new Promise((r) => setTimeout(r, 3000))]);
    await new Promise((r) => setTimeout(r, 150));
    api.child.kill('SIGKILL');
    await Promise.all(inflight);
    api = startApi(env);
    await api.ready;
    const ids = new Map<number, string>();
    for (let round = 0; round < 60 && ids.size < B; round++) {
      for (let b = 0; b < B; b++) {
        if (ids.has(b)) continue;
        const r = await send(api.url, b);
        if (r?.status === 202) ids.set(b, r.body.id);
      }
      if (ids.size < B) await new Promise((r) => setTimeout(r, 500));
    }
    expect(ids.size).toBe(B);
    expect(new Set(ids.values()).size).toBe(B);
    await expect
      .poll(
        async () => {
          const s = await Promise.all(
            [...ids.values()].map(async (id) => (await http(api.url, 'GET', `/v1/batches/${id}`, { token: op.token })).body.status),
          );
          return s.filter((x) => x !== 'completed').length;
        },
        { timeout: 120_000, interval: 500 },
      )
      .toBe(0);
    for (const id of ids.values()) {
      const lots = await http(api.url, 'GET', `/v1/transactions?batchId=${id}&limit=100`, { token: op.token });
      expect(lots.body.items).toHaveLength(ROWS / 100);
    }
    const chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')) });
    let total = 0n;
    for (const [a, want] of expected) {
      expect(await chain.readContract({ address: token, abi: securityTokenAbi, functionName: 'balanceOf', args: [a] })).toBe(want);
      total += want;
    }
    expect(await chain.readContract({ address: token, abi: securityTokenAbi, functionName: 'totalSupply' })).toBe(total);
  }, 300_000);
});
