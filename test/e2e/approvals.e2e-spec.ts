/**
 * Four eyes end to end (issue 16): firm policies and the platform floor hold back coercive
 * operations as `pending_approval` (nothing on chain, no key opened) until checkers approve;
 * the last approval re-runs the pre-checks; reject, expiry and cancel end them; a legal basis is
 * required on forced transfers and stored on the transaction. Chain effects are read with an
 * independent viem client; key openings from the audit trail.
 */
import { generateSync } from 'otplib';
import { createPublicClient, http as viemHttp, type Address, type PublicClient } from 'viem';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, uniq, type OperatorFixture } from '../support/api';
import {
  addMember as addMemberOf,
  balanceOf as chainBalance,
  investor as investorOf,
  keyOpenings as keyOpeningsOf,
} from '../support/four-eyes';

const WAIT = { prefer: 'wait=30' };

describe('maker-checker approvals and legal basis', () => {
  let t: TestApp;
  let admin: string;
  let chain: PublicClient;
  let firm: OperatorFixture; // its first member: firm-admin, maker, checker, viewer
  let tokenId: string;
  let token: Address;
  const checkers: Array<{ id: string; token: string }> = [];
  const users: Record<string, { id: string; address: Address }> = {};

  const balanceOf = (a: Address, at: Address = token) => chainBalance(chain, at, a);
  const req = (method: string, path: string, tok: string, body?: unknown, headers: Record<string, string> = {}) =>
    http(t.url, method, path, { token: tok, body, headers });
  const txOf = async (id: string, tok = firm.token) => (await req('GET', `/v1/transactions/${id}`, tok)).body;
  const settled = async (id: string, tok = firm.token) => {
    await expect.poll(async () => String((await txOf(id, tok)).status), { timeout: 30_000, interval: 100 }).toMatch(/^(confirmed|failed)$/);
    return txOf(id, tok);
  };
  const keyOpenings = (txId: string) => keyOpeningsOf(t.url, admin, txId);

  const addMember = (f: OperatorFixture, roles: string[]) => addMemberOf(t.url, f, roles);

  const investor = (f: OperatorFixture, name: string) => investorOf(t.url, admin, f, name);

  async function deploy(f: OperatorFixture): Promise<{ id: string; address: Address }> {
    const r = await req('POST', '/v1/tokens', f.token, { name: 'Four Eyes Bond', symbol: 'FEB', decimals: 0 }, WAIT);
    expect(r.status, r.text).toBe(200);
    return { id: r.body.id, address: r.body.address };
  }

  async function issue(f: OperatorFixture, tok: string, userId: string, amount: string) {
    const r = await req('POST', `/v1/tokens/${tok}/issue`, f.token, { userId, amount }, WAIT);
    expect(r.body.status, r.text).toBe('confirmed');
  }

  beforeAll(async () => {
    t = await createTestApp();
    admin = await adminToken(t.url);
    chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')), pollingInterval: 50 });
    firm = await createOperator(t.url, admin);
    for (let i = 0; i < 2; i++) checkers.push(await addMember(firm, ['checker']));
    ({ id: tokenId, address: token } = await deploy(firm));
    for (const n of ['a', 'b', 'c']) users[n] = await investor(firm, `投資家 ${n}`);
    await issue(firm, tokenId, users.a!.id, '1000');
    const policy = await req('PUT', `/v1/operators/${firm.id}/policy`, firm.token, {
      rules: [
        { kinds: ['forced-transfer'], minAmount: '100', approvals: 2 },
        { kinds: ['redeem'], approvals: 1 },
      ],
    });
    expect(policy.status, policy.text).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('policies: unknown kinds are 400; the firm and its staff read the policy; lowering is a control change', async () => {
    const bad = await req('PUT', `/v1/operators/${firm.id}/policy`, firm.token, { rules: [{ kinds: ['deploy'], approvals: 1 }] });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    const tooMany = await req('PUT', `/v1/operators/${firm.id}/policy`, firm.token, { rules: [{ kinds: ['issue'], approvals: 6 }] });
    expect(tooMany.status).toBe(400);
    const read = await req('GET', `/v1/operators/${firm.id}/policy`, checkers[0]!.token);
    expect(read.status).toBe(200);
    expect(read.body.rules).toEqual([
      { kinds: ['forced-transfer'], minAmount: '100', approvals: 2 },
      { kinds: ['redeem'], approvals: 1 },
    ]);
    // A checker may not set it.
    expect((await req('PUT', `/v1/operators/${firm.id}/policy`, checkers[0]!.token, read.body)).status).toBe(403);
    // Another firm: 404.
    const other = await createOperator(t.url, admin);
    expect((await req('GET', `/v1/operators/${firm.id}/policy`, other.token)).status).toBe(404);
    // Lowering (dropping a rule) in a firm with one firm-admin and no delay: a control change that applies at once, audited.
    const lowered = await req('PUT', `/v1/operators/${other.id}/policy`, other.token, { rules: [{ kinds: ['freeze'], approvals: 1 }] });
    expect(lowered.status).toBe(200);
    const dropped = await req('PUT', `/v1/operators/${other.id}/policy`, other.token, { rules: [] });
    expect(dropped.status).toBe(200);
    const changes = await req('GET', `/v1/operators/${other.id}/control-changes`, other.token);
    expect(changes.body.items.map((c: { kind: string; status: string }) => [c.kind, c.status])).toEqual([['approval-policy', 'applied']]);
  });

  it('a forced transfer needs a legal basis; v1 reason is read as other', async () => {
    const none = await req('POST', `/v1/tokens/${tokenId}/forced-transfer`, firm.token, {
      fromUserId: users.a!.id,
      toUserId: users.b!.id,
      amount: '1',
    });
    expect(none.status).toBe(400);
    expect(none.body.errors).toEqual([expect.objectContaining({ field: 'legalBasis' })]);
    const otherWithoutNote = await req('POST', `/v1/tokens/${tokenId}/forced-transfer`, firm.token, {
      fromUserId: users.a!.id,
      toUserId: users.b!.id,
      amount: '1',
      legalBasis: { code: 'other' },
    });
    expect(otherWithoutNote.status).toBe(400);
    const v1 = await req(
      'POST',
      `/v1/tokens/${tokenId}/forced-transfer`,
      firm.token,
      { fromUserId: users.a!.id, toUserId: users.b!.id, amount: '1', reason: '相続' },
      WAIT,
    );
    expect(v1.status, v1.text).toBe(200);
    expect(v1.body).toMatchObject({
      status: 'confirmed',
      legalBasis: { code: 'other', note: '相続' },
      approvals: { required: 0, given: [] },
    });
    // Freeze without one (REQUIRE_LEGAL_BASIS off in tests): recorded as not given.
    const fr = await req('POST', `/v1/tokens/${tokenId}/freeze`, firm.token, { userId: users.c!.id }, WAIT);
    expect(fr.body.legalBasis).toEqual({ code: 'other', note: 'not given' });
    const un = await req('POST', `/v1/tokens/${tokenId}/unfreeze`, firm.token, { userId: users.c!.id }, WAIT);
    expect(un.body.status).toBe('confirmed');
  });

  it('two approvals: 202 pending (also under Prefer: wait), nothing signed; self-approval 403, twice 409, the second checker releases it', async () => {
    const [a, b] = checkers;
    const before = { from: await balanceOf(users.a!.address), to: await balanceOf(users.b!.address) };
    const body = {
      fromUserId: users.a!.id,
      toUserId: users.b!.id,
      amount: '150',
      legalBasis: { code: 'court-order', reference: '東京地裁 令和8年(ヨ)第123号' },
    };
    const r = await req('POST', `/v1/tokens/${tokenId}/forced-transfer`, firm.token, body, { ...WAIT, 'idempotency-key': 'ft-150' });
    expect(r.status, r.text).toBe(202);
    expect(r.headers.get('preference-applied')).toBeNull();
    expect(r.body).toMatchObject({
      status: 'pending_approval',
      approvals: { required: 2, given: [] },
      legalBasis: body.legalBasis,
      requestedBy: { type: 'staff', id: firm.id },
    });
    const id = r.body.id as string;
    // The same Idempotency-Key replays the pending transaction.
    const replay = await req('POST', `/v1/tokens/${tokenId}/forced-transfer`, firm.token, body, { 'idempotency-key': 'ft-150' });
    expect([replay.status, replay.body.id, replay.body.status]).toEqual([202, id, 'pending_approval']);
    // Listed for checkers; filterable by its legal basis.
    const waiting = await req('GET', '/v1/approvals?type=transaction', a!.token);
    expect(waiting.body.items).toContainEqual({ type: 'transaction', item: expect.objectContaining({ id }) });
    const byCode = await req('GET', `/v1/transactions?legalBasisCode=court-order`, firm.token);
    expect(byCode.body.items.map((x: { id: string }) => x.id)).toEqual([id]);

    // The requester holds the checker role too: never for its own request.
    const self = await req('POST', `/v1/transactions/${id}/approve`, firm.token, {});
    expect([self.status, self.body.code]).toEqual([403, 'SELF_APPROVAL']);
    const first = await req('POST', `/v1/transactions/${id}/approve`, a!.token, { comment: 'order checked' });
    expect(first.status, first.text).toBe(200);
    expect(first.body).toMatchObject({ status: 'pending_approval', approvals: { required: 2, given: [{ by: a!.id }] } });
    const twice = await req('POST', `/v1/transactions/${id}/approve`, a!.token, {});
    expect([twice.status, twice.body.code]).toEqual([409, 'ALREADY_APPROVED']);
    // Nothing moved and no key was opened while pending.
    expect(await balanceOf(users.a!.address)).toBe(before.from);
    expect(await keyOpenings(id)).toBe(0);

    const second = await req('POST', `/v1/transactions/${id}/approve`, b!.token, {});
    expect(second.status, second.text).toBe(200);
    expect(second.body.approvals.given.map((g: { by: string }) => g.by)).toEqual([a!.id, b!.id]);
    const done = await settled(id);
    expect(done.status).toBe('confirmed');
    expect(await balanceOf(users.a!.address)).toBe(before.from - 150n);
    expect(await balanceOf(users.b!.address)).toBe(before.to + 150n);
    expect(await keyOpenings(id)).toBe(1);
    const late = await req('POST', `/v1/transactions/${id}/approve`, b!.token, {});
    expect([late.status, late.body.code]).toEqual([409, 'NOT_PENDING']);
    // Every decision is an audit event naming the checker; the request's event carries the legal basis.
    const events = await req('GET', `/v1/audit-events?action=transaction.approve&limit=100`, firm.token);
    const mine = events.body.items.filter((e: { subject: { id: string } }) => e.subject.id === id);
    expect(mine.map((e: { actor: { id: string } }) => e.actor.id).sort()).toEqual([a!.id, b!.id].sort());
    const asked = await req('GET', `/v1/audit-events?action=transaction.pending_approval&limit=100`, firm.token);
    expect(asked.body.items.find((e: { subject: { id: string } }) => e.subject.id === id).details).toMatchObject({
      legalBasis: body.legalBasis,
      approvalsRequired: 2,
    });
  });

  it('reject and cancel end a pending request with nothing on chain', async () => {
    const before = await balanceOf(users.a!.address);
    const body = { fromUserId: users.a!.id, toUserId: users.b!.id, amount: '100', legalBasis: { code: 'garnishment' } };
    const r1 = await req('POST', `/v1/tokens/${tokenId}/forced-transfer`, firm.token, body);
    expect(r1.body.status).toBe('pending_approval');
    const rejected = await req('POST', `/v1/transactions/${r1.body.id}/reject`, checkers[0]!.token, { reason: 'wrong holder' });
    expect(rejected.status, rejected.text).toBe(200);
    expect(rejected.body.status).toBe('rejected');
    const after = await req('POST', `/v1/transactions/${r1.body.id}/approve`, checkers[1]!.token, {});
    expect([after.status, after.body.code]).toEqual([409, 'NOT_PENDING']);

    const r2 = await req('POST', `/v1/tokens/${tokenId}/forced-transfer`, firm.token, body);
    const cancelled = await req('POST', `/v1/transactions/${r2.body.id}/cancel`, firm.token);
    expect(cancelled.body.status).toBe('cancelled');
    const audit = await req('GET', `/v1/audit-events?action=transaction.reject&limit=100`, firm.token);
    expect(audit.body.items.find((e: { subject: { id: string } }) => e.subject.id === r1.body.id).actor.id).toBe(checkers[0]!.id);
    expect(await balanceOf(users.a!.address)).toBe(before);
    expect((await keyOpenings(r1.body.id)) + (await keyOpenings(r2.body.id))).toBe(0);
  });

  it('a balance spent while pending: the last approval answers 200 with the transaction failed INSUFFICIENT_BALANCE', async () => {
    await issue(firm, tokenId, users.c!.id, '100');
    const r = await req('POST', `/v1/tokens/${tokenId}/forced-transfer`, firm.token, {
      fromUserId: users.c!.id,
      toUserId: users.b!.id,
      amount: '100',
      legalBasis: { code: 'inheritance' },
    });
    expect(r.body.status).toBe('pending_approval');
    // Nothing is reserved while pending: the holder's tokens can still move.
    const dep = await req('POST', `/v1/tokens/${tokenId}/deposit`, firm.token, { userId: users.c!.id, amount: '60' }, WAIT);
    expect(dep.body.status, dep.text).toBe('confirmed');
    expect((await req('POST', `/v1/transactions/${r.body.id}/approve`, checkers[0]!.token, {})).body.status).toBe('pending_approval');
    const last = await req('POST', `/v1/transactions/${r.body.id}/approve`, checkers[1]!.token, {});
    expect(last.status, last.text).toBe(200);
    expect(last.body).toMatchObject({ status: 'failed', error: { code: 'INSUFFICIENT_BALANCE' } });
    expect(await balanceOf(users.c!.address)).toBe(40n);
    expect(await keyOpenings(r.body.id)).toBe(0);
  });

  it('an API-key request cannot be approved by the key’s owner', async () => {
    const key = await req('POST', '/v1/api-keys', firm.token, { name: 'back office', roles: ['maker'] });
    expect(key.status, key.text).toBe(201);
    const r = await http(t.url, 'POST', `/v1/tokens/${tokenId}/forced-transfer`, {
      headers: { 'x-api-key': key.body.key },
      body: {
        fromUserId: users.a!.id,
        toUserId: users.b!.id,
        amount: '100',
        legalBasis: { code: 'sanctions', reference: 'MOF list 2026-12' },
      },
    });
    expect(r.status, r.text).toBe(202);
    expect(r.body.requestedBy).toEqual({ type: 'api-key', id: key.body.id });
    const owner = await req('POST', `/v1/transactions/${r.body.id}/approve`, firm.token, {});
    expect([owner.status, owner.body.code]).toEqual([403, 'SELF_APPROVAL']);
    const other = await req('POST', `/v1/transactions/${r.body.id}/approve`, checkers[0]!.token, {});
    expect(other.status).toBe(200);
    // A maker without the checker role: FORBIDDEN before anything else.
    const maker = await addMember(firm, ['maker']);
    const denied = await req('POST', `/v1/transactions/${r.body.id}/approve`, maker.token, {});
    expect([denied.status, denied.body.code]).toEqual([403, 'FORBIDDEN']);
    expect((await req('POST', `/v1/transactions/${r.body.id}/cancel`, firm.token)).body.status).toBe('cancelled');
  });

  it('20 concurrent approvals of a one-approval transaction: exactly one queues it, one effect on chain', async () => {
    const many = await Promise.all(Array.from({ length: 20 }, () => addMember(firm, ['checker'])));
    const supply = await chain.readContract({ address: token, abi: securityTokenAbi, functionName: 'totalSupply' });
    const before = await balanceOf(users.a!.address);
    const r = await req('POST', `/v1/tokens/${tokenId}/redeem`, firm.token, { userId: users.a!.id, amount: '7' }, WAIT);
    expect([r.status, r.body.status, r.body.approvals.required]).toEqual([202, 'pending_approval', 1]);
    const answers = await Promise.all(many.map((c) => req('POST', `/v1/transactions/${r.body.id}/approve`, c.token, {})));
    const ok = answers.filter((x) => x.status === 200);
    expect(ok).toHaveLength(1);
    expect(answers.filter((x) => x.status === 409).map((x) => x.body.code)).toEqual(Array(19).fill('NOT_PENDING'));
    expect((await settled(r.body.id)).status).toBe('confirmed');
    expect(await balanceOf(users.a!.address)).toBe(before - 7n);
    expect(await chain.readContract({ address: token, abi: securityTokenAbi, functionName: 'totalSupply' })).toBe(supply - 7n);
    const tx = await txOf(r.body.id);
    expect(tx.approvals.given).toHaveLength(1);
    expect(await keyOpenings(r.body.id)).toBe(1);
  }, 120_000);

  it('a rolling 24h window catches ten transfers of 99 under a rule of ≥ 500', async () => {
    const policy = await req('PUT', `/v1/operators/${firm.id}/policy`, firm.token, {
      rules: [
        { kinds: ['forced-transfer'], minAmount: '100', approvals: 2 },
        { kinds: ['redeem'], approvals: 1 },
        { kinds: ['transfer'], minAmount: '500', window: '24h', approvals: 1 },
      ],
    });
    expect(policy.status, policy.text).toBe(200);
    const statuses: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await req('POST', `/v1/tokens/${tokenId}/transfer`, firm.token, {
        fromUserId: users.a!.id,
        toUserId: users.b!.id,
        amount: '99',
        instruction: { reference: `ORD-${i}`, receivedAt: '2026-12-01T09:00:00Z' },
      });
      expect(r.status, r.text).toBe(202);
      statuses.push(r.body.status === 'pending_approval' ? 'pending' : 'accepted');
    }
    // 5 × 99 = 495 < 500; the sixth brings the day's sum to 594.
    expect(statuses).toEqual([...Array(5).fill('accepted'), ...Array(5).fill('pending')]);
  });

  it('the platform floor holds a firm with an empty policy', async () => {
    const g = await createOperator(t.url, admin);
    const checker = await addMember(g, ['checker']);
    const tok = await deploy(g);
    const u = await investor(g, '投資家 g');
    await issue(g, tok.id, u.id, '50');
    expect((await req('GET', `/v1/operators/${g.id}/policy`, g.token)).body).toEqual({ rules: [] });
    expect((await req('PUT', '/v1/platform/policy', firm.token, { rules: [] })).status).toBe(403);
    const floor = await req('PUT', '/v1/platform/policy', admin, { rules: [{ kinds: ['redeem'], approvals: 1 }] });
    expect(floor.status, floor.text).toBe(200);
    try {
      const r = await req('POST', `/v1/tokens/${tok.id}/redeem`, g.token, { userId: u.id, amount: '5' }, WAIT);
      expect([r.status, r.body.status, r.body.approvals.required]).toEqual([202, 'pending_approval', 1]);
      expect(await balanceOf(u.address, tok.address)).toBe(50n);
      expect((await req('POST', `/v1/transactions/${r.body.id}/approve`, checker.token, {})).status).toBe(200);
      expect((await settled(r.body.id, g.token)).status).toBe('confirmed');
      expect(await balanceOf(u.address, tok.address)).toBe(45n);
    } finally {
      // Lowering outside production (PLATFORM_FOUR_EYES off): applies at once.
      expect((await req('PUT', '/v1/platform/policy', admin, { rules: [] })).status).toBe(200);
    }
  }, 120_000);

  it('with PLATFORM_FOUR_EYES, lowering the floor waits for a second admin; raising applies at once', async () => {
    const four = await createTestApp({ env: { PLATFORM_FOUR_EYES: 'true' } });
    try {
      const rootAdmin = await adminToken(four.url);
      const raise = await http(four.url, 'PUT', '/v1/platform/policy', {
        token: rootAdmin,
        body: { rules: [{ kinds: ['recover'], approvals: 2 }] },
      });
      expect(raise.status, raise.text).toBe(200);
      const lower = await http(four.url, 'PUT', '/v1/platform/policy', { token: rootAdmin, body: { rules: [] } });
      expect(lower.status, lower.text).toBe(202);
      expect(lower.body).toMatchObject({ actionId: expect.any(String), status: 'pending_approval' });
      // Still the raised floor until another admin approves.
      expect((await http(four.url, 'GET', '/v1/platform/policy', { token: rootAdmin })).body.rules).toEqual([
        { kinds: ['recover'], approvals: 2 },
      ]);
      const self = await http(four.url, 'POST', `/v1/platform-actions/${lower.body.actionId}/approve`, { token: rootAdmin, body: {} });
      expect(self.status).toBe(403);
      expect(self.body.code).toBe('SELF_APPROVAL');
      const loginId = uniq('ops-admin');
      const created = await http(four.url, 'POST', '/v1/admins', {
        token: rootAdmin,
        body: { loginId, name: '第二 管理者', email: `${loginId}@platform.example.jp` },
      });
      expect(created.status, created.text).toBe(201);
      const act = await http(four.url, 'POST', '/v1/auth/activate', {
        body: { loginId, activationCode: created.body.activationCode, newPassword: `admin-two-${uniq('pw')}` },
      });
      expect(act.status, act.text).toBe(200);
      const approved = await http(four.url, 'POST', `/v1/platform-actions/${lower.body.actionId}/approve`, {
        token: act.body.accessToken,
        body: {},
      });
      expect(approved.status, approved.text).toBe(200);
      expect((await http(four.url, 'GET', '/v1/platform/policy', { token: rootAdmin })).body.rules).toEqual([]);
    } finally {
      await four.close();
    }
  }, 60_000);

  it('expires after APPROVAL_TTL through the job mechanism', async () => {
    const short = await createTestApp({ env: { APPROVAL_TTL: '2s' } });
    try {
      const r = await http(short.url, 'POST', `/v1/tokens/${tokenId}/forced-transfer`, {
        token: firm.token,
        body: {
          fromUserId: users.a!.id,
          toUserId: users.b!.id,
          amount: '100',
          legalBasis: { code: 'error-correction', note: 'double credit' },
        },
      });
      expect(r.body.status, r.text).toBe('pending_approval');
      await expect.poll(async () => (await txOf(r.body.id)).status, { timeout: 20_000, interval: 200 }).toBe('expired');
      const late = await req('POST', `/v1/transactions/${r.body.id}/approve`, checkers[0]!.token, {});
      expect([late.status, late.body.code]).toEqual([409, 'NOT_PENDING']);
      const ev = await req('GET', `/v1/audit-events?action=transaction.expire&limit=100`, firm.token);
      expect(ev.body.items.find((e: { subject: { id: string } }) => e.subject.id === r.body.id).actor.type).toBe('system');
      expect(await keyOpenings(r.body.id)).toBe(0);
    } finally {
      await short.close();
    }
  }, 60_000);

  it('REQUIRE_MFA_FOR_APPROVAL: a checker without TOTP is refused; each approval needs a fresh otp', async () => {
    const mfa = await createTestApp({ env: { REQUIRE_MFA_FOR_APPROVAL: 'true' } });
    try {
      const post = (path: string, tok: string, body: unknown) => http(mfa.url, 'POST', path, { token: tok, body });
      const r = await post(`/v1/tokens/${tokenId}/forced-transfer`, firm.token, {
        fromUserId: users.a!.id,
        toUserId: users.b!.id,
        amount: '100',
        legalBasis: { code: 'court-order', reference: 'MFA-1' },
      });
      expect(r.body.status, r.text).toBe('pending_approval');
      const noTotp = await post(`/v1/transactions/${r.body.id}/approve`, checkers[0]!.token, {});
      expect([noTotp.status, noTotp.body.code]).toEqual([403, 'MFA_NOT_ENABLED']);
      const enrol = await post('/v1/auth/mfa/totp', checkers[0]!.token, {});
      expect(enrol.status, enrol.text).toBe(201);
      const code = (offset: number) =>
        generateSync({
          secret: enrol.body.secret,
          epoch: Math.floor(Date.now() / 1000) + offset,
          period: 30,
          digits: 6,
          algorithm: 'sha1',
        });
      expect((await post('/v1/auth/mfa/totp/confirm', checkers[0]!.token, { code: code(0) })).status).toBe(204);
      const without = await post(`/v1/transactions/${r.body.id}/approve`, checkers[0]!.token, {});
      expect([without.status, without.body.code]).toEqual([401, 'MFA_REQUIRED']);
      const wrong = await post(`/v1/transactions/${r.body.id}/approve`, checkers[0]!.token, {
        otp: '000000' === code(30) ? '111111' : '000000',
      });
      expect([wrong.status, wrong.body.code]).toEqual([401, 'MFA_REQUIRED']);
      // The confirm used the current step: the next one (within the tolerance) approves.
      const ok = await post(`/v1/transactions/${r.body.id}/approve`, checkers[0]!.token, { otp: code(30) });
      expect(ok.status, ok.text).toBe(200);
      expect(ok.body.approvals.given).toHaveLength(1);
      expect((await req('POST', `/v1/transactions/${r.body.id}/cancel`, firm.token)).body.status).toBe('cancelled');
    } finally {
      await mfa.close();
    }
  }, 60_000);

  it('a suspended maker’s pending request, and a revoked API key’s, end cancelled at once (ACCOUNT_SUSPENDED / UNAUTHENTICATED)', async () => {
    const maker = await addMember(firm, ['maker']);
    const pending = await req('POST', `/v1/tokens/${tokenId}/redeem`, maker.token, { userId: users.a!.id, amount: '1' }, WAIT);
    expect(pending.status, pending.text).toBe(202);
    expect(pending.body.status).toBe('pending_approval');
    const suspended = await req('PATCH', `/v1/operators/${firm.id}/staff/${maker.id}`, firm.token, { status: 'suspended' });
    expect(suspended.status, suspended.text).toBe(200);
    expect(await txOf(pending.body.id)).toMatchObject({ status: 'cancelled', error: { code: 'ACCOUNT_SUSPENDED' } });

    const key = await req('POST', '/v1/api-keys', firm.token, { name: 'back office', roles: ['maker'] });
    expect(key.status, key.text).toBe(201);
    const viaKey = await http(t.url, 'POST', `/v1/tokens/${tokenId}/redeem`, {
      headers: { 'x-api-key': key.body.key },
      body: { userId: users.a!.id, amount: '1' },
    });
    expect(viaKey.body.status, viaKey.text).toBe('pending_approval');
    expect((await req('DELETE', `/v1/api-keys/${key.body.id}`, firm.token)).status).toBe(204);
    expect(await txOf(viaKey.body.id)).toMatchObject({ status: 'cancelled', error: { code: 'UNAUTHENTICATED' } });
    // Neither reached the chain: cancelled rows are never signed.
    const trail = await req('GET', '/v1/audit-events?action=transaction.cancel&limit=100', admin);
    const ids = trail.body.items.filter((e: any) => e.actor.type === 'system').map((e: any) => e.subject.id);
    expect(ids).toEqual(expect.arrayContaining([pending.body.id, viaKey.body.id]));
  }, 60_000);
});
