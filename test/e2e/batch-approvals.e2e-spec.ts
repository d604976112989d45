/**
 * Approvals on bulk work (issues 16 and 19): a batch is judged by policies as a whole (its kind,
 * its summed amount) and waits `pending_approval` — lots and rows too, nothing on chain — until a
 * checker of the firm approves it through POST /v1/batches/{id}/approve; a rejected batch never
 * reaches the chain. Chain effects are read with an independent viem client.
 */
import { createPublicClient, http as viemHttp, type Address, type PublicClient } from 'viem';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, type OperatorFixture } from '../support/api';
import { addMember as addMemberOf, balanceOf as chainBalance, investor as investorOf } from '../support/four-eyes';

const WAIT = { prefer: 'wait=30' };

describe('batches and orders under approval policies', () => {
  let t: TestApp;
  let admin: string;
  let chain: PublicClient;
  let firm: OperatorFixture; // its first member: firm-admin, maker, checker, viewer
  let checker: { id: string; token: string };
  let tokenId: string;
  let token: Address;
  let second: { id: string; address: Address };
  const users: Array<{ id: string; address: Address }> = [];

  const balanceOf = (a: Address, at: Address = token) => chainBalance(chain, at, a);
  const req = (method: string, path: string, tok: string, body?: unknown, headers: Record<string, string> = {}) =>
    http(t.url, method, path, { token: tok, body, headers });
  const batchOf = async (id: string) => (await req('GET', `/v1/batches/${id}`, firm.token)).body;
  const issueBatch = (amounts: string[]) =>
    req('POST', `/v1/tokens/${tokenId}/batches`, firm.token, {
      kind: 'issue',
      items: amounts.map((amount, i) => ({ userId: users[i]!.id, amount })),
    });

  const addMember = (f: OperatorFixture, roles: string[]) => addMemberOf(t.url, f, roles);

  const investor = (f: OperatorFixture, name: string) => investorOf(t.url, admin, f, name);

  beforeAll(async () => {
    t = await createTestApp();
    admin = await adminToken(t.url);
    chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')), pollingInterval: 50 });
    firm = await createOperator(t.url, admin);
    checker = await addMember(firm, ['checker']);
    const r = await req('POST', '/v1/tokens', firm.token, { name: 'Bulk Four Eyes', symbol: 'BFE', decimals: 0 }, WAIT);
    expect(r.status, r.text).toBe(200);
    ({ id: tokenId, address: token } = r.body as { id: string; address: Address });
    const r2 = await req('POST', '/v1/tokens', firm.token, { name: 'Bulk Four Eyes II', symbol: 'BF2', decimals: 0 }, WAIT);
    expect(r2.status, r2.text).toBe(200);
    second = r2.body as { id: string; address: Address };
    for (const n of ['a', 'b', 'c']) users.push(await investor(firm, `投資家 ${n}`));
    const policy = await req('PUT', `/v1/operators/${firm.id}/policy`, firm.token, {
      rules: [{ kinds: ['issue'], minAmount: '100', approvals: 1 }],
    });
    expect(policy.status, policy.text).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('a 3-row issue batch of 300 waits whole (202, nothing on chain); the maker cannot approve it; a checker releases it', async () => {
    const before = await Promise.all(users.map((u) => balanceOf(u.address)));
    const r = await issueBatch(['100', '100', '100']);
    expect(r.status, r.text).toBe(202);
    expect(r.body.status).toBe('pending_approval');
    const id = r.body.id as string;

    const items = await req('GET', `/v1/batches/${id}/items`, firm.token);
    expect(items.body.items.map((i: { status: string }) => i.status)).toEqual(['pending_approval', 'pending_approval', 'pending_approval']);
    const lotIds = [...new Set(items.body.items.map((i: { transactionId: string }) => i.transactionId))] as string[];
    for (const lot of lotIds) {
      const tx = await req('GET', `/v1/transactions/${lot}`, firm.token);
      expect(tx.body.status).toBe('pending_approval');
      expect(tx.body.approvals.required).toBe(1);
      // A lot is decided through its batch only.
      expect((await req('POST', `/v1/transactions/${lot}/approve`, checker.token, {})).status).toBe(409);
    }

    const listed = await req('GET', '/v1/approvals?type=batch', checker.token);
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.items).toContainEqual({ type: 'batch', item: expect.objectContaining({ id, status: 'pending_approval' }) });

    // Nothing signed while pending.
    await new Promise((res) => setTimeout(res, 1000));
    expect(await Promise.all(users.map((u) => balanceOf(u.address)))).toEqual(before);

    const self = await req('POST', `/v1/batches/${id}/approve`, firm.token, {});
    expect(self.status, self.text).toBe(403);
    expect(self.body.code).toBe('SELF_APPROVAL');

    const ok = await req('POST', `/v1/batches/${id}/approve`, checker.token, { comment: '確認済み' });
    expect(ok.status, ok.text).toBe(200);
    expect(['running', 'completed']).toContain(ok.body.status);
    const again = await req('POST', `/v1/batches/${id}/approve`, checker.token, {});
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('NOT_PENDING');

    await expect.poll(async () => (await batchOf(id)).status, { timeout: 30_000, interval: 100 }).toBe('completed');
    expect((await batchOf(id)).counts).toMatchObject({ confirmed: 3, failed: 0 });
    expect(await Promise.all(users.map((u) => balanceOf(u.address)))).toEqual([before[0]! + 100n, before[1]! + 100n, before[2]! + 100n]);
    // The approval is audited naming the checker.
    const audit = await req('GET', `/v1/audit-events?action=batch.approve&limit=100`, admin);
    expect(audit.body.items).toContainEqual(
      expect.objectContaining({ subject: { type: 'batch', id }, actor: expect.objectContaining({ id: checker.id }) }),
    );
  });

  it('a batch under the threshold runs at once', async () => {
    const r = await req('POST', `/v1/tokens/${tokenId}/batches`, firm.token, {
      kind: 'redeem',
      items: [{ userId: users[0]!.id, amount: '1' }],
    });
    expect(r.status, r.text).toBe(202);
    expect(r.body.status).toBe('running');
    await expect.poll(async () => (await batchOf(r.body.id)).status, { timeout: 30_000, interval: 100 }).toBe('completed');
  });

  it('a rejected batch never reaches the chain (rows each under the threshold: the batch counts its sum)', async () => {
    const before = await Promise.all(users.map((u) => balanceOf(u.address)));
    const r = await issueBatch(['60', '60', '60']);
    expect(r.status, r.text).toBe(202);
    expect(r.body.status).toBe('pending_approval');
    const id = r.body.id as string;
    const rej = await req('POST', `/v1/batches/${id}/reject`, checker.token, { reason: '金額誤り' });
    expect(rej.status, rej.text).toBe(200);
    expect(rej.body.status).toBe('rejected');
    expect((await req('POST', `/v1/batches/${id}/approve`, checker.token, {})).body.code).toBe('NOT_PENDING');
    const items = await req('GET', `/v1/batches/${id}/items`, firm.token);
    expect(items.body.items.map((i: { status: string }) => i.status)).toEqual(['failed', 'failed', 'failed']);
    const lot = await req('GET', `/v1/transactions/${items.body.items[0].transactionId}`, firm.token);
    expect(lot.body.status).toBe('rejected');
    await new Promise((res) => setTimeout(res, 1000));
    expect(await Promise.all(users.map((u) => balanceOf(u.address)))).toEqual(before);
  });

  it('an order needing approval anywhere waits whole, then lands after approval; a rejected one never does', async () => {
    const [a, b] = [users[0]!, users[1]!];
    const before = [await balanceOf(a.address), await balanceOf(b.address, second.address)];
    // 150 on the first token needs approval; 10 on the second would not, alone.
    const ops = [
      { tokenId, kind: 'issue', userId: a.id, amount: '150' },
      { tokenId: second.id, kind: 'issue', userId: b.id, amount: '10' },
    ];
    const r = await req('POST', '/v1/orders', firm.token, { operations: ops });
    expect(r.status, r.text).toBe(202);
    const id = r.body.id as string;
    const order = await req('GET', `/v1/orders/${id}`, firm.token);
    expect(order.body.status).toBe('pending_approval');
    expect(order.body.transactions.map((x: { status: string }) => x.status)).toEqual(['pending_approval', 'pending_approval']);
    const listed = await req('GET', '/v1/approvals?type=order', checker.token);
    expect(listed.body.items).toContainEqual({ type: 'order', item: expect.objectContaining({ id, status: 'pending_approval' }) });
    // Its transactions are decided through the order only.
    expect((await req('POST', `/v1/transactions/${order.body.transactions[1].id}/approve`, checker.token, {})).status).toBe(409);
    await new Promise((res) => setTimeout(res, 1000));
    expect([await balanceOf(a.address), await balanceOf(b.address, second.address)]).toEqual(before);

    expect((await req('POST', `/v1/orders/${id}/approve`, firm.token, {})).body.code).toBe('SELF_APPROVAL');
    const ok = await req('POST', `/v1/orders/${id}/approve`, checker.token, {});
    expect(ok.status, ok.text).toBe(200);
    await expect
      .poll(async () => (await req('GET', `/v1/orders/${id}`, firm.token)).body.status, { timeout: 30_000, interval: 100 })
      .toBe('completed');
    expect([await balanceOf(a.address), await balanceOf(b.address, second.address)]).toEqual([before[0]! + 150n, before[1]! + 10n]);

    const r2 = await req('POST', '/v1/orders', firm.token, { operations: ops });
    expect(r2.status, r2.text).toBe(202);
    const rej = await req('POST', `/v1/orders/${r2.body.id}/reject`, checker.token, { reason: '重複' });
    expect(rej.status, rej.text).toBe(200);
    expect(rej.body.status).toBe('rejected');
    await new Promise((res) => setTimeout(res, 1000));
    expect([await balanceOf(a.address), await balanceOf(b.address, second.address)]).toEqual([before[0]! + 150n, before[1]! + 10n]);
  });

  it('a forced-transfer batch stores its legal basis on the lot transactions: one for all rows, or per row', async () => {
    const [a, b, c] = [users[0]!, users[1]!, users[2]!];
    const lotOf = async (id: string) => {
      await expect.poll(async () => (await batchOf(id)).status, { timeout: 30_000, interval: 100 }).toBe('completed');
      const items = await req('GET', `/v1/batches/${id}/items`, firm.token);
      return (await req('GET', `/v1/transactions/${items.body.items[0].transactionId}`, firm.token)).body;
    };
    const court = { code: 'court-order', reference: '令和7年(ヨ)第123号' };
    const one = await req('POST', `/v1/tokens/${tokenId}/batches`, firm.token, {
      kind: 'forced-transfer',
      legalBasis: court,
      items: [
        { userId: a.id, toUserId: c.id, amount: '1' },
        { userId: b.id, toUserId: c.id, amount: '1' },
      ],
    });
    expect(one.status, one.text).toBe(202);
    expect((await lotOf(one.body.id)).legalBasis).toEqual(court);

    const perRow = await req('POST', `/v1/tokens/${tokenId}/batches`, firm.token, {
      kind: 'forced-transfer',
      items: [
        { userId: a.id, toUserId: c.id, amount: '1', legalBasis: court },
        { userId: b.id, toUserId: c.id, amount: '1', legalBasis: { code: 'inheritance', reference: '相続-42' } },
      ],
    });
    expect(perRow.status, perRow.text).toBe(202);
    const lot = await lotOf(perRow.body.id);
    const items = await req('GET', `/v1/batches/${perRow.body.id}/items`, firm.token);
    expect(items.body.items.map((i: { legalBasis: unknown }) => i.legalBasis)).toEqual([
      court,
      { code: 'inheritance', reference: '相続-42' },
    ]);
    // One lot, rows of two bases: the lot points at its rows.
    expect(lot.legalBasis).toEqual({ code: 'other', note: 'per row: see the batch items' });
  });

  it('concurrent approvals of a one-approval batch by five checkers: exactly one releases it, each row lands once', async () => {
    const more = await Promise.all(Array.from({ length: 4 }, () => addMember(firm, ['checker'])));
    const all = [checker, ...more];
    const before = await Promise.all(users.map((u) => balanceOf(u.address)));
    const r = await issueBatch(['40', '40', '40']);
    expect(r.body.status, r.text).toBe('pending_approval');
    const answers = await Promise.all(all.map((c) => req('POST', `/v1/batches/${r.body.id}/approve`, c.token, {})));
    expect(answers.map((x) => x.status).sort()).toEqual([200, 409, 409, 409, 409]);
    expect(answers.filter((x) => x.status === 409).every((x) => x.body.code === 'NOT_PENDING')).toBe(true);
    await expect.poll(async () => (await batchOf(r.body.id)).status, { timeout: 30_000, interval: 100 }).toBe('completed');
    expect(await Promise.all(users.map((u) => balanceOf(u.address)))).toEqual(before.map((b) => b + 40n));
  });
});
