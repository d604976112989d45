/**
 * The emergency pause and platform four eyes, over HTTP with independent viem reads, with the
 * development governance key (GOVERNANCE_SIGNER=local, signed by the API's own pipeline) and
 * PLATFORM_FOUR_EYES on:
 * - a second admin is created and activated (POST /v1/admins, POST /v1/auth/activate);
 * - the firm's sealed key is tampered with in the database, then one admin's emergency pause
 *   still sets governance's pause flag on every active token and revokes the firm's agent role
 *   (nothing opens the firm's key); the firm is suspended; resumed, its own unpause is refused
 *   (GOVERNANCE_PAUSED) and the agent's unpause reverts on chain;
 * - the emergency unpause waits for a second admin: the requester's approval is 403
 *   SELF_APPROVAL, another admin's runs it, and governance's flag is lifted on chain while no
 *   agent role comes back.
 */
import { Client } from 'pg';
import { BaseError, createPublicClient, getAddress, http as viemHttp, keccak256, toHex, type Address, type PublicClient } from 'viem';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, login, uniq, type OperatorFixture } from '../support/api';

const WAIT = { prefer: 'wait=30' };
const AGENT_ROLE = keccak256(toHex('AGENT_ROLE'));
const ADMIN_ROLE = `0x${'00'.repeat(32)}` as const;
const LEGAL = { code: 'regulatory', reference: 'FSA order 2026-77', note: 'key suspected compromised' };

describe('emergency pause and platform four eyes', () => {
  let t: TestApp;
  let admin: string;
  let admin2: string;
  let op: OperatorFixture;
  let chain: PublicClient;
  const tokens: Array<{ id: string; address: Address }> = [];
  let governance: Address;

  const read = <T>(address: Address, fn: string, args: readonly unknown[] = []) =>
    chain.readContract({ address, abi: securityTokenAbi, functionName: fn as never, args }) as Promise<T>;

  async function until<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, ms = 60_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  let tampered: string | undefined;
  beforeAll(async () => {
    t = await createTestApp({ env: { PLATFORM_FOUR_EYES: 'true' } });
    admin = await adminToken(t.url);
    op = await createOperator(t.url, admin);
    chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')), pollingInterval: 50 });
    const u = await http(t.url, 'POST', '/v1/users', { token: op.token, body: { name: '投資家 緊急', email: 'e@example.jp' } });
    const w = await fetch(`${t.url}/v1/users/${u.body.id}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(w.status).toBe(201);
    for (const symbol of ['EP1', 'EP2']) {
      const r = await http(t.url, 'POST', '/v1/tokens', {
        token: op.token,
        body: { name: `Emergency ${symbol}`, symbol, decimals: 0 },
        headers: WAIT,
      });
      expect(r.body.status, r.text).toBe('active');
      tokens.push({ id: r.body.id, address: r.body.address });
      const i = await http(t.url, 'POST', `/v1/tokens/${r.body.id}/issue`, {
        token: op.token,
        body: { userId: u.body.id, amount: '100' },
        headers: WAIT,
      });
      expect(i.body.status, i.text).toBe('confirmed');
    }
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    // Flip the byte back: the run's secret sweep must still open every stored envelope.
    if (tampered) {
      const db = new Client({ connectionString: inject('databaseUrl') });
      await db.connect();
      try {
        await db.query(
          `UPDATE operators SET encrypted_key = overlay(encrypted_key placing decode(lpad(to_hex(get_byte(encrypted_key, length(encrypted_key) - 1) # 255), 2, '0'), 'hex') from length(encrypted_key) for 1) WHERE id = $1`,
          [tampered],
        );
      } finally {
        await db.end();
      }
    }
  });

  it('adds a second admin who activates with a one-time code; GET /v1/admins lists both', async () => {
    const loginId = uniq('ops-admin');
    const r = await http(t.url, 'POST', '/v1/admins', {
      token: admin,
      body: { loginId, name: '鈴木 一郎', email: `${loginId}@platform.example.jp` },
    });
    expect(r.status, r.text).toBe(201);
    expect(r.body.admin).toMatchObject({ loginId, name: '鈴木 一郎', mfaEnabled: false });
    expect(typeof r.body.activationCode).toBe('string');
    const withKey = await http(t.url, 'POST', '/v1/admins', {
      token: admin,
      body: { loginId: uniq('x'), name: 'x', email: 'x@example.jp' },
      headers: { 'idempotency-key': 'k1' },
    });
    expect(withKey.status).toBe(400);
    const password = `admin-two-${uniq('pw')}`;
    const act = await http(t.url, 'POST', '/v1/auth/activate', {
      body: { loginId, activationCode: r.body.activationCode, newPassword: password },
    });
    expect(act.status, act.text).toBe(200);
    admin2 = await login(t.url, loginId, password);
    const list = await http(t.url, 'GET', '/v1/admins?limit=100', { token: admin2 });
    expect(list.status).toBe(200);
    expect(list.body.items.map((a: { loginId: string }) => a.loginId)).toEqual(expect.arrayContaining([loginId, 'root-admin']));
    expect((await http(t.url, 'GET', '/v1/admins', { token: op.token })).status).toBe(403);
  });

  it("lists governance in GET /v1/signers with its gas; it is every token's admin, the firm's key only agent", async () => {
    const r = await http(t.url, 'GET', '/v1/signers', { token: admin });
    expect(r.status, r.text).toBe(200);
    const g = r.body.items.find((s: { kind: string }) => s.kind === 'governance');
    expect(g).toBeDefined();
    governance = getAddress(g.address);
    expect(BigInt(g.gasBalance)).toBe(await chain.getBalance({ address: governance }));
    expect(BigInt(g.gasBalance)).toBeGreaterThan(0n);
    // Readiness shows governance's address and gas (informational: it never fails readiness).
    const ready = await http(t.url, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.text).toContain('"governance"');
    expect(ready.text).toContain(governance);
    for (const tk of tokens) {
      expect(await read(tk.address, 'hasRole', [ADMIN_ROLE, governance])).toBe(true);
      expect(await read(tk.address, 'hasRole', [ADMIN_ROLE, op.signerAddress])).toBe(false);
      expect(await read(tk.address, 'hasRole', [AGENT_ROLE, op.signerAddress])).toBe(true);
    }
  });

  it("pauses every token of a firm whose sealed key is tampered with: governance's flag set, agent role revoked, firm suspended", async () => {
    tampered = op.id;
    const db = new Client({ connectionString: inject('databaseUrl') });
    await db.connect();
    try {
      // Flip the last byte of the sealed key (the GCM tag): it can no longer be opened.
      const n = await db.query(
        `UPDATE operators SET encrypted_key = overlay(encrypted_key placing decode(lpad(to_hex(get_byte(encrypted_key, length(encrypted_key) - 1) # 255), 2, '0'), 'hex') from length(encrypted_key) for 1) WHERE id = $1`,
        [op.id],
      );
      expect(n.rowCount).toBe(1);
    } finally {
      await db.end();
    }
    const noBasis = await http(t.url, 'POST', `/v1/operators/${op.id}/emergency-pause`, { token: admin, body: {} });
    expect(noBasis.status).toBe(400);
    expect(
      (await http(t.url, 'POST', `/v1/operators/${op.id}/emergency-pause`, { token: op.token, body: { legalBasis: LEGAL } })).status,
    ).toBe(403);

    const idem = { 'idempotency-key': `emergency-${op.id}` };
    const r = await http(t.url, 'POST', `/v1/operators/${op.id}/emergency-pause`, {
      token: admin,
      body: { legalBasis: LEGAL },
      headers: idem,
    });
    expect(r.status, r.text).toBe(202);
    // A retry with the same key answers the same rows and pauses nothing twice.
    const replay = await http(t.url, 'POST', `/v1/operators/${op.id}/emergency-pause`, {
      token: admin,
      body: { legalBasis: LEGAL },
      headers: idem,
    });
    expect(replay.status, replay.text).toBe(202);
    expect(replay.body.transactions.map((x: { id: string }) => x.id).sort()).toEqual(
      r.body.transactions.map((x: { id: string }) => x.id).sort(),
    );
    const ofFirm = await http(t.url, 'GET', `/v1/transactions?kind=governance-pause&limit=100`, { token: admin });
    expect(ofFirm.body.items.filter((x: { tokenId: string }) => tokens.some((tk) => tk.id === x.tokenId))).toHaveLength(tokens.length);
    expect(r.body.operatorId).toBe(op.id);
    const kinds = r.body.transactions.map((x: { kind: string }) => x.kind).sort();
    expect(kinds).toEqual(['governance-pause', 'governance-pause', 'revoke-agent', 'revoke-agent']);
    for (const x of r.body.transactions) {
      const done = await until(
        `transaction ${x.id}`,
        async () => (await http(t.url, 'GET', `/v1/transactions/${x.id}`, { token: admin })).body,
        (b: { status: string; from: string; txHash: `0x${string}` }) => ['confirmed', 'failed'].includes(b.status),
      );
      expect(done.status, JSON.stringify(done)).toBe('confirmed');
      expect(getAddress(done.from)).toBe(governance);
      const onChain = await chain.getTransaction({ hash: done.txHash });
      expect(getAddress(onChain.from)).toBe(governance);
    }
    for (const tk of tokens) {
      expect(await read(tk.address, 'governancePaused')).toBe(true);
      expect(await read(tk.address, 'hasRole', [AGENT_ROLE, op.signerAddress])).toBe(false);
    }
    // The firm is suspended: its staff's tokens stop working.
    const me = await http(t.url, 'GET', '/v1/tokens', { token: op.token });
    expect([401, 403]).toContain(me.status);
    // Every admin's feed has it.
    const feed = await http(t.url, 'GET', '/v1/notifications?limit=100', { token: admin2 });
    expect(feed.body.items.some((n: { kind: string }) => n.kind === 'governance.emergency-pause')).toBe(true);
  }, 120_000);

  it("resumed, the firm still cannot lift governance's pause: its unpause is refused and the agent's unpause reverts on chain", async () => {
    const resumed = await http(t.url, 'POST', `/v1/operators/${op.id}/resume`, { token: admin });
    expect(resumed.status, resumed.text).toBe(200);
    const token = await login(t.url, op.loginId, op.password);
    const r = await http(t.url, 'POST', `/v1/tokens/${tokens[0]!.id}/unpause`, { token, body: {} });
    expect(r.status, r.text).toBe(409);
    expect(r.body.code).toBe('GOVERNANCE_PAUSED');
    let reverted: unknown;
    try {
      await chain.simulateContract({
        address: tokens[0]!.address,
        abi: securityTokenAbi,
        functionName: 'unpause',
        account: op.signerAddress,
      });
    } catch (e) {
      reverted = e;
    }
    expect(reverted).toBeInstanceOf(BaseError);
  });

  it('emergency unpause waits for a second admin: SELF_APPROVAL for the requester, then governance lifts its flag and re-grants no role', async () => {
    const r = await http(t.url, 'POST', `/v1/operators/${op.id}/emergency-unpause`, { token: admin, body: { legalBasis: LEGAL } });
    expect(r.status, r.text).toBe(202);
    expect(r.body).toMatchObject({ actionId: expect.any(String), status: 'pending_approval' });
    const id = r.body.actionId as string;
    const list = await http(t.url, 'GET', '/v1/platform-actions', { token: admin2 });
    expect(list.body.items.find((a: { id: string }) => a.id === id)).toMatchObject({
      kind: 'emergency-unpause',
      status: 'pending_approval',
      subject: { type: 'operator', id: op.id },
      approvedBy: null,
    });
    const self = await http(t.url, 'POST', `/v1/platform-actions/${id}/approve`, { token: admin, body: {} });
    expect(self.status).toBe(403);
    expect(self.body.code).toBe('SELF_APPROVAL');
    for (const tk of tokens) expect(await read(tk.address, 'governancePaused')).toBe(true);

    const ok = await http(t.url, 'POST', `/v1/platform-actions/${id}/approve`, { token: admin2, body: {} });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ id, status: 'approved' });
    const again = await http(t.url, 'POST', `/v1/platform-actions/${id}/approve`, { token: admin2, body: {} });
    expect(again.body.code).toBe('NOT_PENDING');
    for (const tk of tokens)
      await until(
        `unpause of ${tk.address}`,
        () => read<boolean>(tk.address, 'governancePaused'),
        (v) => v === false,
      );
    for (const tk of tokens) expect(await read(tk.address, 'hasRole', [AGENT_ROLE, op.signerAddress])).toBe(false);
  }, 120_000);
  it('an issuer grant hands out signing power: it waits for a second admin, then the firm may use the issuer key', async () => {
    const other = await createOperator(t.url, admin);
    const issuer = await http(t.url, 'POST', '/v1/issuers', { token: admin, body: { name: uniq('Grant issuer') } });
    expect(issuer.status, issuer.text).toBe(201);
    const r = await http(t.url, 'POST', `/v1/issuers/${issuer.body.id}/operators`, { token: admin, body: { operatorId: other.id } });
    expect(r.status, r.text).toBe(202);
    expect(r.body).toMatchObject({ actionId: expect.any(String), status: 'pending_approval' });
    // Not granted yet: the firm cannot create a token signed by the issuer.
    expect((await http(t.url, 'GET', `/v1/issuers/${issuer.body.id}`, { token: admin })).body.operatorIds).toEqual([]);
    const early = await http(t.url, 'POST', '/v1/tokens', {
      token: other.token,
      body: { name: 'Issuer bond', symbol: 'IGB', decimals: 0, issuerId: issuer.body.id },
    });
    expect(early.status).toBe(422);
    expect(early.body.code).toBe('ISSUER_NOT_GRANTED');
    expect((await http(t.url, 'POST', `/v1/platform-actions/${r.body.actionId}/approve`, { token: admin, body: {} })).body.code).toBe(
      'SELF_APPROVAL',
    );
    const ok = await http(t.url, 'POST', `/v1/platform-actions/${r.body.actionId}/approve`, { token: admin2, body: {} });
    expect(ok.status, ok.text).toBe(200);
    expect((await http(t.url, 'GET', `/v1/issuers/${issuer.body.id}`, { token: admin })).body.operatorIds).toEqual([other.id]);
    const tk = await http(t.url, 'POST', '/v1/tokens', {
      token: other.token,
      body: { name: 'Issuer bond', symbol: 'IGB', decimals: 0, issuerId: issuer.body.id },
      headers: WAIT,
    });
    expect(tk.body.status, tk.text).toBe('active');
    const issuerAddress = getAddress(issuer.body.signerAddress as string);
    expect(tk.body.signer).toMatchObject({ kind: 'issuer', id: issuer.body.id });
    expect(await read(tk.body.address as Address, 'hasRole', [AGENT_ROLE, issuerAddress])).toBe(true);
  }, 120_000);
});
