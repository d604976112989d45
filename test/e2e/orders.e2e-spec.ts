/**
 * Orders over several tokens (¶0057): a firm-signed and an issuer-signed token in one order, each
 * transaction signed by its own token's signer (checked on chain: the mined transaction's sender),
 * and all-or-nothing acceptance with debits added up across the order.
 */
import { createPublicClient, http as viemHttp, type Address, type Hex, type PublicClient } from 'viem';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, type OperatorFixture } from '../support/api';

describe('orders', () => {
  let t: TestApp;
  let admin: string;
  let op: OperatorFixture;
  let chain: PublicClient;
  let issuer: { id: string; signerAddress: Address };
  const tok: Record<'firm' | 'issuer', { id: string; address: Address }> = {} as never;
  const users: Array<{ id: string; address: Address }> = [];

  const balanceOf = (token: Address, a: Address) =>
    chain.readContract({ address: token, abi: securityTokenAbi, functionName: 'balanceOf', args: [a] });
  const order = (operations: unknown[]) => http(t.url, 'POST', '/v1/orders', { token: op.token, body: { operations } });
  const txCount = async () => (await http(t.url, 'GET', '/v1/transactions?limit=100', { token: op.token })).body.items.length as number;

  beforeAll(async () => {
    t = await createTestApp();
    admin = await adminToken(t.url);
    op = await createOperator(t.url, admin);
    chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')), pollingInterval: 50 });
    const i = await http(t.url, 'POST', '/v1/issuers', { token: admin, body: { name: '株式会社みなと' } });
    expect(i.status, i.text).toBe(201);
    issuer = i.body;
    expect((await http(t.url, 'POST', `/v1/issuers/${issuer.id}/operators`, { token: admin, body: { operatorId: op.id } })).status).toBe(
      200,
    );
    for (const [k, body] of [
      ['firm', { name: 'Firm Bond', symbol: 'FB', decimals: 0 }],
      ['issuer', { name: 'Issuer Share', symbol: 'IS', decimals: 0, issuerId: issuer.id }],
    ] as const) {
      const r = await http(t.url, 'POST', '/v1/tokens', { token: op.token, body, headers: { prefer: 'wait=30' } });
      expect(r.status, r.text).toBe(200);
      tok[k] = { id: r.body.id, address: r.body.address };
    }
    for (const name of ['注文 一', '注文 二']) {
      const u = await http(t.url, 'POST', '/v1/users', { token: op.token, body: { name, email: 'o@example.jp' } });
      const w = await fetch(`${t.url}/v1/users/${u.body.id}/wallet`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: '{}',
      });
      await w.arrayBuffer();
      users.push({ id: u.body.id, address: w.headers.get('x-wallet-address') as Address });
    }
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  async function settled(id: string) {
    const end = Date.now() + 60_000;
    for (;;) {
      const r = await http(t.url, 'GET', `/v1/orders/${id}`, { token: op.token });
      expect(r.status, r.text).toBe(200);
      if (r.body.status !== 'running') return r.body;
      if (Date.now() > end) throw new Error(r.text);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  it('runs one order over a firm token and an issuer token: two transactions, two signers', async () => {
    const [a, b] = users;
    const r = await order([
      { tokenId: tok.firm.id, kind: 'issue', userId: a!.id, amount: '100' },
      { tokenId: tok.issuer.id, kind: 'issue', userId: b!.id, amount: '200' },
    ]);
    expect(r.status, r.text).toBe(202);
    expect(r.headers.get('location')).toBe(`/v1/orders/${r.body.id}`);
    expect(r.body.transactions.map((x: any) => [x.tokenId, x.from])).toEqual([
      [tok.firm.id, op.signerAddress],
      [tok.issuer.id, issuer.signerAddress],
    ]);
    const done = await settled(r.body.id);
    expect(done.status).toBe('completed');
    // Independent: who actually sent each mined transaction, and the balances.
    const senders = await Promise.all(
      done.transactions.map((x: any) => chain.getTransaction({ hash: x.txHash as Hex }).then((tx) => tx.from.toLowerCase())),
    );
    expect(senders).toEqual([op.signerAddress.toLowerCase(), issuer.signerAddress.toLowerCase()]);
    expect(op.signerAddress.toLowerCase()).not.toBe(issuer.signerAddress.toLowerCase());
    expect(await balanceOf(tok.firm.address, a!.address)).toBe(100n);
    expect(await balanceOf(tok.issuer.address, b!.address)).toBe(200n);
  }, 90_000);

  it('accepts all operations or none: one bad operation → 422 listing it, nothing queued', async () => {
    const [a, b] = users;
    const before = await txCount();
    const r = await order([
      { tokenId: tok.issuer.id, kind: 'issue', userId: b!.id, amount: '5' },
      { tokenId: tok.firm.id, kind: 'redeem', userId: a!.id, amount: '101' },
      { tokenId: '00000000-0000-4000-8000-000000000000', kind: 'issue', userId: a!.id, amount: '1' },
      { tokenId: tok.firm.id, kind: 'issue', userId: a!.id, amount: '1,000' },
    ]);
    expect(r.status, r.text).toBe(422);
    expect(r.body.code).toBe('BATCH_INVALID');
    expect(r.body.rows.map((x: any) => [x.row, x.code])).toEqual([
      [2, 'INSUFFICIENT_BALANCE'],
      [3, 'NOT_FOUND'],
      [4, 'VALIDATION_FAILED'],
    ]);
    expect(await txCount()).toBe(before);
  });

  it('adds debits up across the order: two redeems that fit alone but not together are refused', async () => {
    const [a] = users;
    const before = await txCount();
    const r = await order([
      { tokenId: tok.firm.id, kind: 'redeem', userId: a!.id, amount: '60' },
      { tokenId: tok.firm.id, kind: 'redeem', userId: a!.id, amount: '60' },
    ]);
    expect(r.status, r.text).toBe(422);
    expect(r.body.rows).toEqual([expect.objectContaining({ row: 2, code: 'INSUFFICIENT_BALANCE' })]);
    expect(await txCount()).toBe(before);
    expect(await balanceOf(tok.firm.address, a!.address)).toBe(100n);
  });
});
