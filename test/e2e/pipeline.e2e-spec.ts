/** The signing pipeline under concurrency, across two instances, and through a KMS outage. */
import { createPublicClient, http as viemHttp, type Address, type PublicClient } from 'viem';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { AwsKms } from '../../src/kms/aws-kms';
import { KeyManagement, KmsUnavailableError } from '../../src/kms/key-management';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, type OperatorFixture } from '../support/api';

describe('signing pipeline', () => {
  let a: TestApp;
  let admin: string;
  let op: OperatorFixture;
  let chain: PublicClient;
  let tokenId: string;
  let token: Address;
  let userId: string;
  let wallet: Address;

  const supply = () => chain.readContract({ address: token, abi: securityTokenAbi, functionName: 'totalSupply' });

  async function allFinal(app: TestApp, ids: string[]): Promise<any[]> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const rows = await Promise.all(
        ids.map(async (id) => (await http(app.url, 'GET', `/v1/transactions/${id}`, { token: op.token })).body),
      );
      if (rows.every((r) => ['confirmed', 'failed'].includes(r.status))) return rows;
      if (Date.now() > deadline) throw new Error(`not final: ${rows.filter((r) => !['confirmed', 'failed'].includes(r.status)).length}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async function signerNonces(app: TestApp): Promise<number[]> {
    const rows = await app.app
      .get(DataSource)
      .query<Array<{ nonce: number }>>(`SELECT nonce FROM transactions WHERE from_address = $1 AND nonce IS NOT NULL ORDER BY nonce`, [
        op.signerAddress,
      ]);
    return rows.map((r) => r.nonce);
  }

  beforeAll(async () => {
    a = await createTestApp();
    admin = await adminToken(a.url);
    op = await createOperator(a.url, admin);
    chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')) });
    const u = await http(a.url, 'POST', '/v1/users', { token: op.token, body: { name: '負荷 試験', email: 'load@example.jp' } });
    userId = u.body.id;
    const w = await fetch(`${a.url}/v1/users/${userId}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    wallet = w.headers.get('x-wallet-address') as Address;
    const tk = await http(a.url, 'POST', '/v1/tokens', {
      token: op.token,
      body: { name: 'Load', symbol: 'LOAD', decimals: 0 },
      headers: { prefer: 'wait=30' },
    });
    tokenId = tk.body.id;
    token = tk.body.address;
  }, 60_000);
  afterAll(async () => {
    await a?.close();
  });

  it('100 concurrent issues: all confirmed, supply exact, nonces contiguous', async () => {
    const amounts = Array.from({ length: 100 }, (_, i) => i + 1);
    const accepted = await Promise.all(
      amounts.map((n) =>
        http(a.url, 'POST', `/v1/tokens/${tokenId}/issue`, {
          token: op.token,
          body: { userId, amount: String(n) },
          headers: { 'idempotency-key': `load-${n}` },
        }),
      ),
    );
    expect(accepted.filter((r) => r.status !== 202).map((r) => r.text)).toEqual([]);
    const rows = await allFinal(
      a,
      accepted.map((r) => r.body.id),
    );
    expect(rows.filter((r) => r.status !== 'confirmed').map((r) => r.error)).toEqual([]);
    expect(await supply()).toBe(BigInt(amounts.reduce((s, n) => s + n, 0)));
    const nonces = await signerNonces(a);
    expect(nonces).toEqual(Array.from({ length: nonces.length }, (_, i) => i));
    expect(nonces.length).toBe(await chain.getTransactionCount({ address: op.signerAddress }));
    // Idempotent client retries create nothing new.
    const retried = await Promise.all(
      amounts.slice(0, 10).map((n) =>
        http(a.url, 'POST', `/v1/tokens/${tokenId}/issue`, {
          token: op.token,
          body: { userId, amount: String(n) },
          headers: { 'idempotency-key': `load-${n}` },
        }),
      ),
    );
    expect(retried.map((r) => r.body.id)).toEqual(accepted.slice(0, 10).map((r) => r.body.id));
  }, 180_000);

  it('two instances on one database never reuse or skip a nonce', async () => {
    const b = await createTestApp();
    try {
      const before = await supply();
      const reqs = Array.from({ length: 60 }, (_, i) =>
        http(i % 2 ? a.url : b.url, 'POST', `/v1/tokens/${tokenId}/issue`, { token: op.token, body: { userId, amount: '2' } }),
      );
      const accepted = await Promise.all(reqs);
      expect(accepted.filter((r) => r.status !== 202).map((r) => r.text)).toEqual([]);
      const rows = await allFinal(
        a,
        accepted.map((r) => r.body.id),
      );
      expect(rows.filter((r) => r.status !== 'confirmed').map((r) => r.error)).toEqual([]);
      expect(await supply()).toBe(before + 120n);
      const nonces = await signerNonces(a);
      expect(new Set(nonces).size).toBe(nonces.length);
      expect(nonces).toEqual(Array.from({ length: nonces.length }, (_, i) => i));
      expect(nonces.length).toBe(await chain.getTransactionCount({ address: op.signerAddress }));
    } finally {
      await b.close();
    }
  }, 180_000);

  it('keeps operations queued with an error through a KMS outage and completes them afterwards', async () => {
    await a.close();
    let down = true;
    const c = await createTestApp({
      customize: (builder) =>
        builder.overrideProvider(KeyManagement).useFactory({
          factory: () => {
            // The real KMS API, with a switch in front of Decrypt.
            const real = new AwsKms(a.config);
            return new Proxy(real, {
              get(target, prop, receiver) {
                if (prop === 'decrypt')
                  return (...args: Parameters<AwsKms['decrypt']>) =>
                    down ? Promise.reject(new KmsUnavailableError()) : target.decrypt(...args);
                const v: unknown = Reflect.get(target, prop, receiver);
                return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
              },
            });
          },
        }),
    });
    a = c; // closed by afterAll
    const before = await supply();
    const r = await http(c.url, 'POST', `/v1/tokens/${tokenId}/issue`, { token: op.token, body: { userId, amount: '5' } });
    expect(r.status).toBe(202);
    await expect
      .poll(async () => (await http(c.url, 'GET', `/v1/transactions/${r.body.id}`, { token: op.token })).body.error?.code, {
        timeout: 20_000,
      })
      .toBe('KMS_UNAVAILABLE');
    expect((await http(c.url, 'GET', `/v1/transactions/${r.body.id}`, { token: op.token })).body.status).toBe('queued');
    down = false;
    await expect
      .poll(async () => (await http(c.url, 'GET', `/v1/transactions/${r.body.id}`, { token: op.token })).body.status, {
        timeout: 60_000,
        interval: 250,
      })
      .toBe('confirmed');
    expect(await supply()).toBe(before + 5n);
    void wallet;
  }, 120_000);
});
