/**
 * An approval racing the expiry (issue 16 item 4): with a short APPROVAL_TTL, twenty checkers
 * approve a one-approval request at moments spread around its expiry. Whatever wins, there is
 * exactly one outcome — approved (one 200, every other answer 409 NOT_PENDING, one effect on
 * chain) or expired (no 200, nothing on chain, no key opened) — for a single transaction, a batch
 * and an order. Chain effects are read with an independent viem client.
 */
import { createPublicClient, http as viemHttp, type Address, type PublicClient } from 'viem';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, type OperatorFixture } from '../support/api';
import { addMember, balanceOf, investor, keyOpenings, type Investor, type Member } from '../support/four-eyes';

const TTL_MS = 2_000;
const WAIT = { prefer: 'wait=30' };
/**
 * Where the approvals land relative to the expiry, per round (ms): each round spreads its 20
 * approvals over ±400 ms around its center. An approval takes from ~100 ms to over a second
 * depending on the machine's load (its pre-checks read the chain), so the rounds run from well
 * before the expiry (approved) to after it (expired), with the race somewhere between; the
 * outcome of every round is logged.
 */
const CENTERS = [-900, -600, -300, 0, 300, 600];
const SPREAD_MS = 40;
type Answer = { status: number; body: any; text: string };

describe('an approval racing the expiry gives exactly one outcome', () => {
  let t: TestApp;
  let admin: string;
  let chain: PublicClient;
  let firm: OperatorFixture;
  let token: { id: string; address: Address };
  let holders: Investor[];
  let checkers: Member[];
  const outcomes: Record<string, string[]> = {};

  const req = (method: string, path: string, tok: string, body?: unknown, headers: Record<string, string> = {}) =>
    http(t.url, method, path, { token: tok, body, headers });
  const sleep = (ms: number) => new Promise((res) => setTimeout(res, Math.max(0, ms)));
  const balances = () => Promise.all(holders.map((h) => balanceOf(chain, token.address, h.address)));

  /** Twenty approvals fired at `expiry + center ± 400 ms` (one per checker); the winner's moment is logged. */
  async function approveAround(kind: string, path: string, createdAt: string, center: number): Promise<Answer[]> {
    const expiry = Date.parse(createdAt) + TTL_MS;
    const offsets = checkers.map((_, i) => center + (i - checkers.length / 2) * SPREAD_MS);
    const answers = await Promise.all(
      checkers.map(async (c, i) => {
        await sleep(expiry + offsets[i]! - Date.now());
        return req('POST', path, c.token, {});
      }),
    );
    const won = answers.findIndex((a) => a.status === 200);
    (outcomes[kind] ??= []).push(
      won < 0 ? `expired (fired ${offsets[0]}..${offsets.at(-1)} ms)` : `approved (fired at ${offsets[won]} ms)`,
    );
    return answers;
  }

  /** Exactly one outcome: one 200 and 19 NOT_PENDING, or no 200 at all (every answer NOT_PENDING). */
  function judge(answers: Answer[]): 'approved' | 'refused' {
    const ok = answers.filter((a) => a.status === 200);
    const others = answers.filter((a) => a.status !== 200);
    expect(
      others.map((a) => a.body.code),
      others.map((a) => a.text).join('\n'),
    ).toEqual(Array(others.length).fill('NOT_PENDING'));
    expect(ok.length).toBeLessThanOrEqual(1);
    return ok.length ? 'approved' : 'refused';
  }

  beforeAll(async () => {
    t = await createTestApp({ env: { APPROVAL_TTL: `${TTL_MS / 1000}s` } });
    admin = await adminToken(t.url);
    chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')), pollingInterval: 50 });
    firm = await createOperator(t.url, admin);
    const r = await req('POST', '/v1/tokens', firm.token, { name: 'Race Bond', symbol: 'RCB', decimals: 0 }, WAIT);
    expect(r.status, r.text).toBe(200);
    token = { id: r.body.id, address: r.body.address };
    holders = [];
    for (const n of ['a', 'b', 'c']) holders.push(await investor(t.url, admin, firm, `投資家 ${n}`));
    for (const h of holders) {
      const i = await req('POST', `/v1/tokens/${token.id}/issue`, firm.token, { userId: h.id, amount: '99' }, WAIT);
      expect(i.body.status, i.text).toBe('confirmed');
    }
    checkers = await Promise.all(Array.from({ length: 20 }, () => addMember(t.url, firm, ['checker'])));
    const policy = await req('PUT', `/v1/operators/${firm.id}/policy`, firm.token, {
      rules: [
        { kinds: ['redeem'], approvals: 1 },
        { kinds: ['issue'], minAmount: '100', approvals: 1 },
      ],
    });
    expect(policy.status, policy.text).toBe(200);
  }, 180_000);
  afterAll(async () => {
    console.log(`approval vs expiry, per round: ${JSON.stringify(outcomes, null, 1)}`);
    await t?.close();
  });

  it('a single transaction: approved once (one effect on chain) or expired (nothing on chain)', async () => {
    for (const center of CENTERS) {
      const before = await balances();
      const r = await req('POST', `/v1/tokens/${token.id}/redeem`, firm.token, { userId: holders[0]!.id, amount: '1' });
      expect([r.status, r.body.status], r.text).toEqual([202, 'pending_approval']);
      const answers = await approveAround('transaction', `/v1/transactions/${r.body.id}/approve`, r.body.createdAt, center);
      const verdict = judge(answers);
      const final = async () => String((await req('GET', `/v1/transactions/${r.body.id}`, firm.token)).body.status);
      await expect.poll(final, { timeout: 30_000, interval: 100 }).toMatch(/^(confirmed|expired)$/);
      const tx = (await req('GET', `/v1/transactions/${r.body.id}`, firm.token)).body;
      // The answer and the transaction agree: an approval that answered 200 is never expired afterwards.
      expect(tx.status).toBe(verdict === 'approved' ? 'confirmed' : 'expired');
      expect(tx.approvals.given).toHaveLength(verdict === 'approved' ? 1 : 0);
      const after = await balances();
      expect(after).toEqual([before[0]! - (verdict === 'approved' ? 1n : 0n), before[1], before[2]]);
      expect(await keyOpenings(t.url, admin, r.body.id)).toBe(verdict === 'approved' ? 1 : 0);
    }
  }, 180_000);

  it('a batch: every row lands once, or the batch expires with nothing on chain', async () => {
    for (const center of CENTERS) {
      const before = await balances();
      const r = await req('POST', `/v1/tokens/${token.id}/batches`, firm.token, {
        kind: 'issue',
        items: holders.map((h) => ({ userId: h.id, amount: '40' })),
      });
      expect([r.status, r.body.status], r.text).toEqual([202, 'pending_approval']);
      const answers = await approveAround('batch', `/v1/batches/${r.body.id}/approve`, r.body.createdAt, center);
      const verdict = judge(answers);
      const batch = async () => (await req('GET', `/v1/batches/${r.body.id}`, firm.token)).body;
      await expect.poll(async () => String((await batch()).status), { timeout: 30_000, interval: 100 }).toMatch(/^(completed|expired)$/);
      const b = await batch();
      expect(b.status).toBe(verdict === 'approved' ? 'completed' : 'expired');
      const items = (await req('GET', `/v1/batches/${r.body.id}/items`, firm.token)).body.items as Array<{
        status: string;
        transactionId: string;
      }>;
      expect(items.map((i) => i.status)).toEqual(Array(3).fill(verdict === 'approved' ? 'confirmed' : 'failed'));
      const lot = (await req('GET', `/v1/transactions/${items[0]!.transactionId}`, firm.token)).body;
      expect(lot.status).toBe(verdict === 'approved' ? 'confirmed' : 'expired');
      const added = verdict === 'approved' ? 40n : 0n;
      expect(await balances()).toEqual(before.map((x) => x + added));
      expect(await keyOpenings(t.url, admin, lot.id)).toBe(verdict === 'approved' ? 1 : 0);
    }
  }, 180_000);

  it('an order: all its transactions queued once, or all expired', async () => {
    for (const center of CENTERS) {
      const before = await balances();
      const r = await req('POST', '/v1/orders', firm.token, {
        operations: [
          { tokenId: token.id, kind: 'issue', userId: holders[1]!.id, amount: '100' },
          { tokenId: token.id, kind: 'issue', userId: holders[2]!.id, amount: '2' },
        ],
      });
      expect(r.status, r.text).toBe(202);
      const answers = await approveAround('order', `/v1/orders/${r.body.id}/approve`, r.body.createdAt, center);
      const verdict = judge(answers);
      const order = async () => (await req('GET', `/v1/orders/${r.body.id}`, firm.token)).body;
      await expect.poll(async () => String((await order()).status), { timeout: 30_000, interval: 100 }).toMatch(/^(completed|expired)$/);
      const o = await order();
      expect(o.status).toBe(verdict === 'approved' ? 'completed' : 'expired');
      expect(o.transactions.map((x: { status: string }) => x.status)).toEqual(
        Array(2).fill(verdict === 'approved' ? 'confirmed' : 'expired'),
      );
      expect(await balances()).toEqual(verdict === 'approved' ? [before[0], before[1]! + 100n, before[2]! + 2n] : before);
    }
  }, 180_000);
});
