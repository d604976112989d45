/**
 * kill -9 of the API in the middle of a load, restart, idempotent client retries:
 * every accepted operation ends on chain exactly once.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createPublicClient, http as viemHttp, type Address } from 'viem';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { freePort } from '../../dev/processes';
import { http, testEnv } from '../support/app';
import { adminToken, createOperator, type OperatorFixture } from '../support/api';

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

describe('crash safety', () => {
  let env: Record<string, string | undefined>;
  let api: ReturnType<typeof startApi>;

  beforeAll(async () => {
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'ignore' });
    env = testEnv({ PORT: String(await freePort()), LOG_LEVEL: 'silent' });
    api = startApi(env);
    await api.ready;
  }, 120_000);
  afterAll(() => {
    api?.child.kill('SIGKILL');
  });

  it('every accepted operation is on chain exactly once after a kill -9 and idempotent retries', async () => {
    const admin = await adminToken(api.url);
    const op: OperatorFixture = await createOperator(api.url, admin);
    const u = await http(api.url, 'POST', '/v1/users', { token: op.token, body: { name: 'クラッシュ', email: 'c@example.jp' } });
    const w = await fetch(`${api.url}/v1/users/${u.body.id}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const wallet = w.headers.get('x-wallet-address') as Address;
    const tk = await http(api.url, 'POST', '/v1/tokens', {
      token: op.token,
      body: { name: 'Crash', symbol: 'CRSH', decimals: 0 },
      headers: { prefer: 'wait=30' },
    });
    const token = tk.body.address as Address;
    const N = 60;
    const send = (base: string, i: number) =>
      http(base, 'POST', `/v1/tokens/${tk.body.id}/issue`, {
        token: op.token,
        body: { userId: u.body.id, amount: String(i + 1) },
        headers: { 'idempotency-key': `crash-${i}` },
      }).catch(() => undefined);
    // Fire the load and kill the API while it is accepting and signing.
    const inflight = Array.from({ length: N }, (_, i) => send(api.url, i));
    await new Promise((r) => setTimeout(r, 300));
    api.child.kill('SIGKILL');
    await Promise.all(inflight);
    api = startApi(env);
    await api.ready;
    // The client retries everything with the same keys; in-progress keys (409) are retried.
    const ids = new Map<number, string>();
    for (let round = 0; round < 60 && ids.size < N; round++) {
      for (let i = 0; i < N; i++) {
        if (ids.has(i)) continue;
        const r = await send(api.url, i);
        if (r && (r.status === 202 || r.status === 200)) ids.set(i, r.body.id);
      }
      if (ids.size < N) await new Promise((r) => setTimeout(r, 500));
    }
    expect(ids.size).toBe(N);
    await expect
      .poll(
        async () => {
          const rows = await Promise.all(
            [...ids.values()].map(async (id) => (await http(api.url, 'GET', `/v1/transactions/${id}`, { token: op.token })).body.status),
          );
          return rows.filter((s) => s !== 'confirmed').length;
        },
        { timeout: 90_000, interval: 500 },
      )
      .toBe(0);
    const chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')) });
    const expected = BigInt((N * (N + 1)) / 2);
    expect(await chain.readContract({ address: token, abi: securityTokenAbi, functionName: 'balanceOf', args: [wallet] })).toBe(expected);
    expect(await chain.readContract({ address: token, abi: securityTokenAbi, functionName: 'totalSupply' })).toBe(expected);
  }, 240_000);

  it('a wallet reissue killed the moment it answers still freezes the old wallet, once, after the restart', async () => {
    const admin = await adminToken(api.url);
    const op: OperatorFixture = await createOperator(api.url, admin);
    const u = await http(api.url, 'POST', '/v1/users', { token: op.token, body: { name: '再発行', email: 'r@example.jp' } });
    const first = await fetch(`${api.url}/v1/users/${u.body.id}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const old = first.headers.get('x-wallet-address') as Address;
    const tk = await http(api.url, 'POST', '/v1/tokens', {
      token: op.token,
      body: { name: 'Reissue', symbol: 'RISS', decimals: 0 },
      headers: { prefer: 'wait=30' },
    });
    const issued = await http(api.url, 'POST', `/v1/tokens/${tk.body.id}/issue`, {
      token: op.token,
      body: { userId: u.body.id, amount: '7' },
      headers: { prefer: 'wait=30' },
    });
    expect(issued.body.status).toBe('confirmed');
    const reissue = await fetch(`${api.url}/v1/users/${u.body.id}/wallet?reissue=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'paper lost' }),
    });
    // Killed as soon as the answer arrives: the freeze is only what the reissue committed with it.
    api.child.kill('SIGKILL');
    expect(reissue.status).toBe(201);
    await reissue.arrayBuffer();
    api = startApi(env);
    await api.ready;
    const chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')) });
    const token = tk.body.address as Address;
    await expect
      .poll(() => chain.readContract({ address: token, abi: securityTokenAbi, functionName: 'isFrozen', args: [old] }), { timeout: 60_000 })
      .toBe(true);
    const freezes = async () =>
      (await http(api.url, 'GET', `/v1/transactions?tokenId=${tk.body.id}&kind=freeze`, { token: op.token })).body.items.filter(
        (x: any) => x.status !== 'cancelled',
      );
    await expect.poll(async () => (await freezes()).map((x: any) => x.status), { timeout: 30_000 }).toEqual(['confirmed']);
  }, 180_000);
});
