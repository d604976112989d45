/**
 * Approvals on bulk work (issues 16 and 19): a batch is judged by policies as a whole (its kind,
 * its summed amount) and waits `pending_approval` — lots and rows too, nothing on chain — until a
 * checker of the firm approves it through POST /v1/batches/{id}/approve; a rejected batch never
 * reaches the chain. The last approval of a batch or an order re-runs the pre-checks: a row made
 * impossible while pending fails with its code and never reaches the chain (an atomic batch and
 * an order: none does), an unreadable chain answers 503 with nothing recorded. A lot or an
 * order's transaction is never cancelled alone. Chain effects are read with an independent viem client.
 */
import { createPublicClient, http as viemHttp, type Address, type PublicClient } from 'viem';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, type OperatorFixture } from '../support/api';
import {
  addMember as addMemberOf,
  balanceOf as chainBalance,
  investor as investorOf,
  keyOpenings as keyOpeningsOf,
} from '../support/four-eyes';

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
  const keyOpenings = (txId: string) => keyOpeningsOf(t.url, admin, txId);
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

  describe('pre-checks again at the last approval', () => {
    // Fresh holders, so balances are known; forced transfers ≥ 10 need one approval from here on.
    const h: Array<{ id: string; address: Address }> = [];
    const court = { code: 'court-order', reference: '令和8年(ヨ)第7号' };
    const redeemNow = async (u: { id: string }, amount: string) => {
      const r = await req('POST', `/v1/tokens/${tokenId}/redeem`, firm.token, { userId: u.id, amount }, WAIT);
      expect(r.body.status, r.text).toBe('confirmed');
    };
    const settledBatch = async (id: string) => {
      await expect
        .poll(async () => (await batchOf(id)).status, { timeout: 30_000, interval: 100 })
        .toMatch(/^(completed|partially_failed)$/);
      return batchOf(id);
    };
    const rowsOf = async (id: string) =>
      (await req('GET', `/v1/batches/${id}/items`, firm.token)).body.items as Array<{
        row: number;
        status: string;
        transactionId: string | null;
        error: { code: string } | null;
      }>;

    beforeAll(async () => {
      for (const n of ['d', 'e', 'f']) h.push(await investor(firm, `保有者 ${n}`));
      for (const u of h.slice(0, 2)) {
        const r = await req('POST', `/v1/tokens/${tokenId}/issue`, firm.token, { userId: u.id, amount: '20' }, WAIT);
        expect(r.body.status, r.text).toBe('confirmed');
      }
      const policy = await req('PUT', `/v1/operators/${firm.id}/policy`, firm.token, {
        rules: [
          { kinds: ['issue'], minAmount: '100', approvals: 1 },
          { kinds: ['forced-transfer'], minAmount: '10', approvals: 1 },
        ],
      });
      expect(policy.status, policy.text).toBe(200);
    }, 120_000);

    it('non-atomic: a row whose balance was spent while pending fails INSUFFICIENT_BALANCE with no transaction; the others run', async () => {
      const [d, e, f] = [h[0]!, h[1]!, h[2]!];
      const r = await req('POST', `/v1/tokens/${tokenId}/batches`, firm.token, {
        kind: 'forced-transfer',
        atomic: false,
        legalBasis: court,
        items: [
          { userId: d.id, toUserId: f.id, amount: '15' },
          { userId: e.id, toUserId: f.id, amount: '15' },
        ],
      });
      expect(r.status, r.text).toBe(202);
      expect(r.body.status).toBe('pending_approval');
      // Nothing is reserved while pending: d's tokens can still move.
      await redeemNow(d, '10');
      expect(await balanceOf(d.address)).toBe(10n);

      const ok = await req('POST', `/v1/batches/${r.body.id}/approve`, checker.token, {});
      expect(ok.status, ok.text).toBe(200);
      const done = await settledBatch(r.body.id);
      expect(done.status).toBe('partially_failed');
      expect(done.counts).toMatchObject({ confirmed: 1, failed: 1 });
      const rows = await rowsOf(r.body.id);
      expect(rows[0]).toMatchObject({ row: 1, status: 'failed', transactionId: null, error: { code: 'INSUFFICIENT_BALANCE' } });
      expect(rows[1]).toMatchObject({ row: 2, status: 'confirmed', error: null });
      // On chain: the refused row moved nothing, the other one landed once.
      expect([await balanceOf(d.address), await balanceOf(e.address), await balanceOf(f.address)]).toEqual([10n, 5n, 15n]);
      const audit = await req('GET', '/v1/audit-events?action=batch.approve&limit=100', admin);
      const ev = audit.body.items.find((x: { subject: { id: string } }) => x.subject.id === r.body.id);
      expect(ev.details.refused).toEqual([expect.objectContaining({ row: 1, code: 'INSUFFICIENT_BALANCE' })]);
    });

    it('atomic: one refused row refuses the whole batch at the last approval; nothing reaches the chain', async () => {
      const [d, e, f] = [h[0]!, h[1]!, h[2]!];
      const r = await req('POST', `/v1/tokens/${tokenId}/batches`, firm.token, {
        kind: 'forced-transfer',
        legalBasis: court,
        items: [
          { userId: d.id, toUserId: f.id, amount: '10' },
          { userId: e.id, toUserId: f.id, amount: '5' },
        ],
      });
      expect(r.status, r.text).toBe(202);
      expect(r.body.status).toBe('pending_approval');
      const lot = (await rowsOf(r.body.id))[0]!.transactionId!;
      await redeemNow(e, '1');

      const ok = await req('POST', `/v1/batches/${r.body.id}/approve`, checker.token, {});
      expect(ok.status, ok.text).toBe(200);
      expect(ok.body.status).toBe('partially_failed');
      expect(ok.body.counts).toMatchObject({ queued: 0, confirmed: 0, failed: 2 });
      const rows = await rowsOf(r.body.id);
      expect(rows.map((x) => [x.status, x.error?.code])).toEqual([
        ['failed', 'BATCH_INVALID'],
        ['failed', 'INSUFFICIENT_BALANCE'],
      ]);
      const tx = (await req('GET', `/v1/transactions/${lot}`, firm.token)).body;
      expect(tx).toMatchObject({ status: 'failed', error: { code: 'BATCH_INVALID' }, txHash: null });
      expect(tx.approvals.given.map((g: { by: string }) => g.by)).toEqual([checker.id]);
      await new Promise((res) => setTimeout(res, 1000));
      expect([await balanceOf(d.address), await balanceOf(e.address), await balanceOf(f.address)]).toEqual([10n, 4n, 15n]);
      expect(await keyOpenings(lot)).toBe(0);
    });

    it('an order: one operation made impossible while pending fails the whole order, nothing on chain', async () => {
      const [d, a] = [h[0]!, users[0]!];
      const before = await balanceOf(a.address);
      const r = await req('POST', '/v1/orders', firm.token, {
        operations: [
          { tokenId, kind: 'issue', userId: a.id, amount: '150' },
          { tokenId, kind: 'redeem', userId: d.id, amount: '8' },
        ],
      });
      expect(r.status, r.text).toBe(202);
      expect((await req('GET', `/v1/orders/${r.body.id}`, firm.token)).body.status).toBe('pending_approval');
      await redeemNow(d, '5');

      const ok = await req('POST', `/v1/orders/${r.body.id}/approve`, checker.token, {});
      expect(ok.status, ok.text).toBe(200);
      expect(ok.body.status).toBe('partially_failed');
      expect(ok.body.transactions.map((x: { status: string; error: { code: string } | null }) => [x.status, x.error?.code])).toEqual([
        ['failed', 'BATCH_INVALID'],
        ['failed', 'INSUFFICIENT_BALANCE'],
      ]);
      await new Promise((res) => setTimeout(res, 1000));
      expect([await balanceOf(a.address), await balanceOf(d.address)]).toEqual([before, 5n]);
      for (const x of ok.body.transactions) expect(await keyOpenings(x.id)).toBe(0);
    });

    it('an order is re-checked cumulatively: two debits that each fit but not together refuse it; ones that fit together run', async () => {
      const [d, f] = [h[0]!, h[2]!];
      const topUp = await req('POST', `/v1/tokens/${tokenId}/issue`, firm.token, { userId: d.id, amount: '10' }, WAIT);
      expect(topUp.body.status, topUp.text).toBe('confirmed');
      expect(await balanceOf(d.address)).toBe(15n);
      const fBefore = await balanceOf(f.address);
      const order = (amount: string) =>
        req('POST', '/v1/orders', firm.token, {
          operations: [
            { tokenId, kind: 'forced-transfer', fromUserId: d.id, toUserId: f.id, amount, legalBasis: court },
            { tokenId, kind: 'forced-transfer', fromUserId: d.id, toUserId: f.id, amount, legalBasis: court },
            { tokenId, kind: 'issue', userId: f.id, amount: '100' },
          ],
        });
      const r = await order('6');
      expect(r.status, r.text).toBe(202);
      await redeemNow(d, '4');
      // 11 left: each 6 fits alone, 12 together does not.
      const refused = await req('POST', `/v1/orders/${r.body.id}/approve`, checker.token, {});
      expect(refused.status, refused.text).toBe(200);
      expect(refused.body.transactions.map((x: { status: string; error: { code: string } | null }) => [x.status, x.error?.code])).toEqual([
        ['failed', 'BATCH_INVALID'],
        ['failed', 'INSUFFICIENT_BALANCE'],
        ['failed', 'BATCH_INVALID'],
      ]);

      const r2 = await order('5');
      expect(r2.status, r2.text).toBe(202);
      const ok = await req('POST', `/v1/orders/${r2.body.id}/approve`, checker.token, {});
      expect(ok.status, ok.text).toBe(200);
      await expect
        .poll(async () => (await req('GET', `/v1/orders/${r2.body.id}`, firm.token)).body.status, { timeout: 30_000, interval: 100 })
        .toBe('completed');
      // Only the second order reached the chain, each operation once.
      expect([await balanceOf(d.address), await balanceOf(f.address)]).toEqual([1n, fBefore + 110n]);
      for (const x of refused.body.transactions) expect(await keyOpenings(x.id)).toBe(0);
    });

    it('a chain that cannot be read at the last approval: 503 CHAIN_UNAVAILABLE and nothing recorded', async () => {
      const held = await issueBatch(['100']);
      expect(held.body.status, held.text).toBe('pending_approval');
      const order = await req('POST', '/v1/orders', firm.token, {
        operations: [{ tokenId, kind: 'issue', userId: h[2]!.id, amount: '100' }],
      });
      expect(order.status, order.text).toBe(202);
      // The same database, an API instance whose chain node does not answer.
      const blind = await createTestApp({ env: { CHAIN_RPC_URL: 'http://127.0.0.1:9' } });
      try {
        const down = await http(blind.url, 'POST', `/v1/batches/${held.body.id}/approve`, { token: checker.token, body: {} });
        expect([down.status, down.body.code], down.text).toEqual([503, 'CHAIN_UNAVAILABLE']);
        const downOrder = await http(blind.url, 'POST', `/v1/orders/${order.body.id}/approve`, { token: checker.token, body: {} });
        expect([downOrder.status, downOrder.body.code], downOrder.text).toEqual([503, 'CHAIN_UNAVAILABLE']);
      } finally {
        await blind.close();
      }
      const still = await batchOf(held.body.id);
      expect(still.status).toBe('pending_approval');
      const lot = (await rowsOf(held.body.id))[0]!.transactionId!;
      expect((await req('GET', `/v1/transactions/${lot}`, firm.token)).body.approvals.given).toEqual([]);
      const audit = await req('GET', '/v1/audit-events?action=batch.approve&limit=100', admin);
      expect(audit.body.items.filter((x: { subject: { id: string } }) => x.subject.id === held.body.id)).toEqual([]);
      const waiting = (await req('GET', `/v1/orders/${order.body.id}`, firm.token)).body;
      expect([waiting.status, waiting.transactions[0].approvals.given]).toEqual(['pending_approval', []]);
      // The chain back: the same checker's approval goes through.
      const ok = await req('POST', `/v1/batches/${held.body.id}/approve`, checker.token, {});
      expect(ok.status, ok.text).toBe(200);
      expect((await settledBatch(held.body.id)).status).toBe('completed');
      expect((await req('POST', `/v1/orders/${order.body.id}/approve`, checker.token, {})).status).toBe(200);
    }, 60_000);

    it('a lot of a batch, or a transaction of an order, waiting for approval is not cancelled alone (409 NOT_CANCELLABLE naming it)', async () => {
      const held = await issueBatch(['100']);
      expect(held.body.status, held.text).toBe('pending_approval');
      const lot = (await rowsOf(held.body.id))[0]!.transactionId!;
      const alone = await req('POST', `/v1/transactions/${lot}/cancel`, firm.token);
      expect([alone.status, alone.body.code], alone.text).toEqual([409, 'NOT_CANCELLABLE']);
      expect(alone.body.detail).toContain(`batch ${held.body.id}`);
      // Nothing changed: the lot and its batch still wait, and the batch is decided whole.
      expect((await req('GET', `/v1/transactions/${lot}`, firm.token)).body.status).toBe('pending_approval');
      expect((await rowsOf(held.body.id)).map((x) => x.status)).toEqual(['pending_approval']);
      const rej = await req('POST', `/v1/batches/${held.body.id}/reject`, checker.token, { reason: '取消' });
      expect([rej.status, rej.body.status]).toEqual([200, 'rejected']);

      const order = await req('POST', '/v1/orders', firm.token, {
        operations: [
          { tokenId, kind: 'issue', userId: h[2]!.id, amount: '100' },
          { tokenId, kind: 'issue', userId: h[1]!.id, amount: '1' },
        ],
      });
      expect(order.status, order.text).toBe(202);
      const txs = (await req('GET', `/v1/orders/${order.body.id}`, firm.token)).body.transactions as Array<{ id: string }>;
      const one = await req('POST', `/v1/transactions/${txs[1]!.id}/cancel`, firm.token);
      expect([one.status, one.body.code], one.text).toEqual([409, 'NOT_CANCELLABLE']);
      expect(one.body.detail).toContain(`order ${order.body.id}`);
      const after = (await req('GET', `/v1/orders/${order.body.id}`, firm.token)).body;
      expect(after.transactions.map((x: { status: string }) => x.status)).toEqual(['pending_approval', 'pending_approval']);
      expect((await req('POST', `/v1/orders/${order.body.id}/reject`, checker.token, { reason: '取消' })).body.status).toBe('rejected');
    });
  });
});
