/**
 * `batch.completed` webhooks: a batch that ends — completed, or partially_failed (here: a row
 * refused at its last approval) — is reported once to the firm's endpoint, signed, with the batch
 * as GET /v1/batches/{id} answers it; a rejected batch never ran and is not reported. A loopback
 * receiver verifies every delivery's signature.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, type OperatorFixture } from '../support/api';
import { addMember, investor, type Investor, type Member } from '../support/four-eyes';
import { LoopbackReceiver } from '../support/webhook-receiver';

const WAIT = { prefer: 'wait=30' };

describe('batch.completed webhooks', () => {
  let t: TestApp;
  let firm: OperatorFixture;
  let checker: Member;
  let tokenId: string;
  let holders: Investor[];
  let secret: string;
  const rx = new LoopbackReceiver();

  const req = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}, tok = firm.token) =>
    http(t.url, method, path, { token: tok, body, headers });
  const batchOf = async (id: string) => (await req('GET', `/v1/batches/${id}`)).body;
  const reported = (id: string) => rx.events(secret).filter((e) => e.body.type === 'batch.completed' && e.body.data.id === id);
  const ended = async (id: string) => {
    await expect
      .poll(async () => String((await batchOf(id)).status), { timeout: 30_000, interval: 100 })
      .toMatch(/^(completed|partially_failed)$/);
    await expect.poll(() => reported(id).length, { timeout: 15_000, interval: 100 }).toBeGreaterThan(0);
    return batchOf(id);
  };

  beforeAll(async () => {
    t = await createTestApp({ env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
    const admin = await adminToken(t.url);
    firm = await createOperator(t.url, admin);
    checker = await addMember(t.url, firm, ['checker']);
    const tok = await req('POST', '/v1/tokens', { name: 'Hook Bond', symbol: 'HKB', decimals: 0 }, WAIT);
    expect(tok.status, tok.text).toBe(200);
    tokenId = tok.body.id;
    holders = [];
    for (const n of ['a', 'b']) holders.push(await investor(t.url, admin, firm, `投資家 ${n}`));
    await rx.start();
    const hook = await req('POST', '/v1/webhooks', { url: rx.url(), events: ['batch.completed'] });
    expect(hook.status, hook.text).toBe(201);
    secret = hook.body.secret;
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await rx.stop();
  });

  it('a completed batch is reported once, with the batch as its route answers it', async () => {
    const r = await req('POST', `/v1/tokens/${tokenId}/batches`, {
      kind: 'issue',
      items: holders.map((h) => ({ userId: h.id, amount: '5' })),
    });
    expect(r.status, r.text).toBe(202);
    const b = await ended(r.body.id);
    expect(b.status).toBe('completed');
    // At least once: a redelivery keeps its webhook-id, so one event id.
    const events = reported(r.body.id);
    expect(new Set(events.map((e) => e.id)).size).toBe(1);
    expect(events[0]!.body.data).toEqual(b);
    expect(b.counts).toMatchObject({ valid: 2, confirmed: 2, failed: 0 });
  });

  it('a batch whose row is refused at its last approval ends partially_failed and is reported; a rejected one is not', async () => {
    const policy = await req('PUT', `/v1/operators/${firm.id}/policy`, { rules: [{ kinds: ['issue'], minAmount: '100', approvals: 1 }] });
    expect(policy.status, policy.text).toBe(200);
    const [a, b] = [holders[0]!, holders[1]!];
    const r = await req('POST', `/v1/tokens/${tokenId}/batches`, {
      kind: 'issue',
      atomic: false,
      items: [
        { userId: a.id, amount: '60' },
        { userId: b.id, amount: '60' },
      ],
    });
    expect([r.status, r.body.status], r.text).toEqual([202, 'pending_approval']);
    const frozen = await req('POST', `/v1/tokens/${tokenId}/freeze`, { userId: b.id }, WAIT);
    expect(frozen.body.status, frozen.text).toBe('confirmed');
    const ok = await req('POST', `/v1/batches/${r.body.id}/approve`, {}, {}, checker.token);
    expect(ok.status, ok.text).toBe(200);
    const done = await ended(r.body.id);
    expect(done).toMatchObject({ status: 'partially_failed', counts: { confirmed: 1, failed: 1 } });
    expect(reported(r.body.id)[0]!.body.data).toEqual(done);
    const items = (await req('GET', `/v1/batches/${r.body.id}/items`)).body.items;
    expect(items[1]).toMatchObject({ status: 'failed', transactionId: null, error: { code: 'ADDRESS_FROZEN' } });

    const rejected = await req('POST', `/v1/tokens/${tokenId}/batches`, { kind: 'issue', items: [{ userId: a.id, amount: '100' }] });
    expect(rejected.body.status, rejected.text).toBe('pending_approval');
    expect((await req('POST', `/v1/batches/${rejected.body.id}/reject`, { reason: '誤り' }, {}, checker.token)).body.status).toBe(
      'rejected',
    );
    // A later batch's report arrives after it would have: the rejected one was never reported.
    const later = await req('POST', `/v1/tokens/${tokenId}/batches`, { kind: 'issue', items: [{ userId: a.id, amount: '1' }] });
    await ended(later.body.id);
    expect(reported(rejected.body.id)).toEqual([]);
  });
});
