/**
 * Key rotation of a firm with tokens, over HTTP with independent viem reads (development
 * governance key, PLATFORM_FOUR_EYES on): a second admin approves; afterwards the new address
 * holds the agent role and the old none, the old ciphertexts are gone from the database,
 * custody is untouched, and an issue is signed by the new address. A second rotation of the
 * same signer while one runs is 409 ROTATION_IN_PROGRESS.
 */
import { Client } from 'pg';
import { createPublicClient, getAddress, http as viemHttp, keccak256, toHex, type Address, type PublicClient } from 'viem';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, login, uniq, type OperatorFixture } from '../support/api';

const WAIT = { prefer: 'wait=30' };
const AGENT_ROLE = keccak256(toHex('AGENT_ROLE'));

describe('key rotation', () => {
  let t: TestApp;
  let admin: string;
  let admin2: string;
  let op: OperatorFixture;
  let chain: PublicClient;
  let user: { id: string; address: Address };
  const tokens: Array<{ id: string; address: Address }> = [];

  const read = <T>(address: Address, fn: string, args: readonly unknown[] = []) =>
    chain.readContract({ address, abi: securityTokenAbi, functionName: fn as never, args }) as Promise<T>;

  beforeAll(async () => {
    t = await createTestApp({ env: { PLATFORM_FOUR_EYES: 'true' } });
    admin = await adminToken(t.url);
    op = await createOperator(t.url, admin);
    chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')), pollingInterval: 50 });
    const loginId = uniq('rot-admin');
    const a = await http(t.url, 'POST', '/v1/admins', { token: admin, body: { loginId, name: 'Second', email: `${loginId}@example.jp` } });
    const pw = `second-admin-${uniq('pw')}`;
    await http(t.url, 'POST', '/v1/auth/activate', { body: { loginId, activationCode: a.body.activationCode, newPassword: pw } });
    admin2 = await login(t.url, loginId, pw);
    const u = await http(t.url, 'POST', '/v1/users', { token: op.token, body: { name: '投資家 回転', email: 'r@example.jp' } });
    const w = await fetch(`${t.url}/v1/users/${u.body.id}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    user = { id: u.body.id, address: w.headers.get('x-wallet-address') as Address };
    for (const symbol of ['RT1', 'RT2', 'RT3']) {
      const r = await http(t.url, 'POST', '/v1/tokens', {
        token: op.token,
        body: { name: `Rotate ${symbol}`, symbol, decimals: 0 },
        headers: WAIT,
      });
      expect(r.body.status, r.text).toBe('active');
      tokens.push({ id: r.body.id, address: r.body.address });
      const i = await http(t.url, 'POST', `/v1/tokens/${r.body.id}/issue`, {
        token: op.token,
        body: { userId: user.id, amount: '100' },
        headers: WAIT,
      });
      expect(i.body.status, i.text).toBe('confirmed');
    }
    const d = await http(t.url, 'POST', `/v1/tokens/${tokens[0]!.id}/deposit`, {
      token: op.token,
      body: { userId: user.id, amount: '40' },
      headers: WAIT,
    });
    expect(d.body.status, d.text).toBe('confirmed');
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  it('rotates the firm key after a second admin approves: new agent, old none, old ciphertexts gone, custody untouched, the next issue signed by the new key', async () => {
    const db = new Client({ connectionString: inject('databaseUrl') });
    await db.connect();
    try {
      const before = (
        await db.query<{ encrypted_key: Buffer; encrypted_data_key: Buffer }>(
          'SELECT encrypted_key, encrypted_data_key FROM operators WHERE id = $1',
          [op.id],
        )
      ).rows[0]!;
      const custodyBefore = await http(t.url, 'GET', `/v1/tokens/${tokens[0]!.id}/custody`, { token: admin });

      const rotationBody = { legalBasis: { code: 'regulatory', reference: 'rotation drill' } };
      const idem = { 'idempotency-key': `rotation-${op.id}` };
      const r = await http(t.url, 'POST', `/v1/operators/${op.id}/key-rotation`, { token: admin, body: rotationBody, headers: idem });
      expect(r.status, r.text).toBe(202);
      // The same request again (a retry after a lost answer): the same rotation, not a 409 or a second one.
      const replay = await http(t.url, 'POST', `/v1/operators/${op.id}/key-rotation`, { token: admin, body: rotationBody, headers: idem });
      expect(replay.status, replay.text).toBe(202);
      expect(replay.body.id).toBe(r.body.id);
      const reused = await http(t.url, 'POST', `/v1/operators/${op.id}/key-rotation`, { token: admin, body: {}, headers: idem });
      expect(reused.status).toBe(422);
      expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
      expect(r.body).toMatchObject({
        status: 'pending_approval',
        signer: { kind: 'operator', id: op.id },
        oldAddress: op.signerAddress,
        actionId: expect.any(String),
      });
      const second = await http(t.url, 'POST', `/v1/operators/${op.id}/key-rotation`, { token: admin, body: {} });
      expect(second.status).toBe(409);
      expect(second.body.code).toBe('ROTATION_IN_PROGRESS');
      expect((await http(t.url, 'POST', `/v1/platform-actions/${r.body.actionId}/approve`, { token: admin, body: {} })).body.code).toBe(
        'SELF_APPROVAL',
      );
      const ok = await http(t.url, 'POST', `/v1/platform-actions/${r.body.actionId}/approve`, { token: admin2, body: {} });
      expect(ok.status, ok.text).toBe(200);

      const started = Date.now();
      let rot = r.body;
      while (rot.status !== 'completed' && rot.status !== 'failed' && Date.now() - started < 90_000) {
        await new Promise((res) => setTimeout(res, 250));
        rot = (await http(t.url, 'GET', `/v1/rotations/${r.body.id}`, { token: admin })).body;
      }
      process.stderr.write(`[rotation] 3 tokens rotated in ${Date.now() - started} ms (approval to completed)\n`);
      expect(rot.status, JSON.stringify(rot)).toBe('completed');
      expect(rot.steps.map((s: { kind: string }) => s.kind)).toEqual([
        'hold-queue',
        'settle-old',
        'grant-agent',
        'grant-agent',
        'grant-agent',
        'revoke-agent',
        'revoke-agent',
        'revoke-agent',
        'destroy-old-key',
      ]);
      expect(rot.steps.every((s: { status: string }) => s.status === 'done')).toBe(true);
      const next = getAddress(rot.newAddress);
      expect(next).not.toBe(op.signerAddress);
      for (const tk of tokens) {
        expect(await read(tk.address, 'hasRole', [AGENT_ROLE, next])).toBe(true);
        expect(await read(tk.address, 'hasRole', [AGENT_ROLE, op.signerAddress])).toBe(false);
      }
      // Each governance step's row exactly once, confirmed, from governance.
      const txIds = rot.steps
        .filter((s: { transactionId: string | null }) => s.transactionId)
        .map((s: { transactionId: string }) => s.transactionId);
      expect(new Set(txIds).size).toBe(6);

      const after = (
        await db.query<{ encrypted_key: Buffer; encrypted_data_key: Buffer; signer_address: string }>(
          'SELECT encrypted_key, encrypted_data_key, signer_address FROM operators WHERE id = $1',
          [op.id],
        )
      ).rows[0]!;
      expect(getAddress(after.signer_address)).toBe(next);
      // The old ciphertexts exist nowhere in the database any more.
      for (const old of [before.encrypted_key, before.encrypted_data_key]) {
        const hits = await db.query(
          `SELECT 1 FROM operators WHERE encrypted_key = $1 OR encrypted_data_key = $1
            UNION ALL SELECT 1 FROM rotations WHERE new_encrypted_key = $1 OR new_encrypted_data_key = $1`,
          [old],
        );
        expect(hits.rowCount).toBe(0);
      }
      const destroyed = await http(t.url, 'GET', '/v1/audit-events?limit=100', { token: admin });
      expect(destroyed.body.items.some((e: { action: string }) => e.action === 'key.destroy')).toBe(true);

      const custodyAfter = await http(t.url, 'GET', `/v1/tokens/${tokens[0]!.id}/custody`, { token: admin });
      expect(custodyAfter.body).toEqual(custodyBefore.body);
      expect(custodyAfter.body.onChainBalance).toBe('40');

      const op2 = await login(t.url, op.loginId, op.password);
      const issue = await http(t.url, 'POST', `/v1/tokens/${tokens[1]!.id}/issue`, {
        token: op2,
        body: { userId: user.id, amount: '7' },
        headers: WAIT,
      });
      expect(issue.body.status, issue.text).toBe('confirmed');
      expect(getAddress((await chain.getTransaction({ hash: issue.body.txHash })).from)).toBe(next);
      expect(await read(tokens[1]!.address, 'balanceOf', [user.address])).toBe(107n);
      const me = await http(t.url, 'GET', `/v1/operators/${op.id}`, { token: op2 });
      expect(getAddress(me.body.signerAddress)).toBe(next);
    } finally {
      await db.end();
    }
  }, 180_000);
});
