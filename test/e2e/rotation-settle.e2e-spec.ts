/**
 * Key rotation while the old key has signed work the node does not mine (its own Anvil: mining
 * is switched off and on; TX_STUCK_AFTER_SECONDS=2, so the rotation waits 6 s before acting):
 * - the old key opens: the stuck issue's nonce is consumed by a 0-value self-transfer from the
 *   old address, the issue is signed again by the new key and lands exactly once;
 * - KMS refuses to open the old key (its ciphertext tampered with in the database): the old
 *   address loses the agent role first, the rotation completes, the new address holds the role,
 *   and the old key's stuck issue, once the node takes it, can only revert.
 * Effects are read with independent viem calls.
 */
import { Client } from 'pg';
import { createPublicClient, getAddress, http as viemHttp, keccak256, parseEther, toHex, type Address, type Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { freePort, startAnvil, type StartedProcess } from '../../dev/processes';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, login, uniq, type OperatorFixture } from '../support/api';
import { dropDatabase, freshDatabase } from '../support/db';

const WAIT = { prefer: 'wait=30' };
const AGENT_ROLE = keccak256(toHex('AGENT_ROLE'));

interface Firm {
  op: OperatorFixture;
  user: { id: string; address: Address };
  tokens: Array<{ id: string; address: Address }>;
}

describe('key rotation with the old key’s work stuck', () => {
  let t: TestApp;
  let anvil: StartedProcess;
  // A chain of its own needs a database of its own: the platform's keys (governance, anchors)
  // carry their nonces in the database, and the shared one has them from the shared chain.
  let databaseUrl: string;
  let admin: string;
  let admin2: string;
  const chain = () => createPublicClient({ transport: viemHttp(anvil.url), pollingInterval: 50 });
  const rpc = <T = unknown>(method: string, params: unknown[]): Promise<T> =>
    chain().request<{ Method: string; Parameters: unknown[]; ReturnType: T }>({ method, params });
  const read = <T>(address: Address, fn: string, args: readonly unknown[] = []) =>
    chain().readContract({ address, abi: securityTokenAbi, functionName: fn as never, args }) as Promise<T>;
  const getTx = async (token: string, id: string) => (await http(t.url, 'GET', `/v1/transactions/${id}`, { token })).body;

  async function firm(symbols: string[]): Promise<Firm> {
    const op = await createOperator(t.url, admin);
    const u = await http(t.url, 'POST', '/v1/users', { token: op.token, body: { name: '投資家 滞留', email: 'stuck@example.jp' } });
    const w = await fetch(`${t.url}/v1/users/${u.body.id}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const tokens: Firm['tokens'] = [];
    for (const symbol of symbols) {
      const r = await http(t.url, 'POST', '/v1/tokens', {
        token: op.token,
        body: { name: `Settle ${symbol}`, symbol, decimals: 0 },
        headers: WAIT,
      });
      expect(r.body.status, r.text).toBe('active');
      tokens.push({ id: r.body.id, address: r.body.address });
      const i = await http(t.url, 'POST', `/v1/tokens/${r.body.id}/issue`, {
        token: op.token,
        body: { userId: u.body.id, amount: '10' },
        headers: WAIT,
      });
      expect(i.body.status, i.text).toBe('confirmed');
    }
    return { op, user: { id: u.body.id, address: w.headers.get('x-wallet-address') as Address }, tokens };
  }

  /** Mining off, then an issue the node holds in its pool: signed by the old key, not mined. */
  async function stuckIssue(f: Firm, amount: string): Promise<{ id: string; nonce: number; txHash: Hex }> {
    await rpc('evm_setAutomine', [false]);
    await rpc('evm_setIntervalMining', [0]);
    const r = await http(t.url, 'POST', `/v1/tokens/${f.tokens[0]!.id}/issue`, { token: f.op.token, body: { userId: f.user.id, amount } });
    expect(r.status, r.text).toBe(202);
    await expect.poll(async () => (await getTx(f.op.token, r.body.id)).status, { timeout: 15_000, interval: 100 }).toBe('submitted');
    const signed = await getTx(f.op.token, r.body.id);
    await expect
      .poll(
        () =>
          chain()
            .getTransaction({ hash: signed.txHash })
            .then(
              () => true,
              () => false,
            ),
        { timeout: 10_000, interval: 100 },
      )
      .toBe(true);
    return { id: r.body.id, nonce: signed.nonce, txHash: signed.txHash };
  }

  async function rotate(f: Firm): Promise<{ id: string }> {
    const r = await http(t.url, 'POST', `/v1/operators/${f.op.id}/key-rotation`, {
      token: admin,
      body: { legalBasis: { code: 'regulatory', reference: 'stuck-key drill' } },
    });
    expect(r.status, r.text).toBe(202);
    const ok = await http(t.url, 'POST', `/v1/platform-actions/${r.body.actionId}/approve`, { token: admin2, body: {} });
    expect(ok.status, ok.text).toBe(200);
    return { id: r.body.id };
  }

  async function finished(id: string, timeoutMs: number): Promise<Record<string, any>> {
    const started = Date.now();
    for (;;) {
      const rot = (await http(t.url, 'GET', `/v1/rotations/${id}`, { token: admin })).body;
      if (['completed', 'failed'].includes(rot.status) || Date.now() - started > timeoutMs) return rot;
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  /** The pool's pending transactions of `from` (Anvil's txpool_content). */
  async function pooled(from: Address): Promise<Array<{ hash: Hex; to: Address | null; nonce: Hex; value: Hex }>> {
    const pool = await rpc<{ pending: Record<string, Record<string, { hash: Hex; to: Address | null; nonce: Hex; value: Hex }>> }>(
      'txpool_content',
      [],
    );
    const mine = Object.entries(pool.pending ?? {}).find(([a]) => getAddress(a) === getAddress(from));
    return mine ? Object.values(mine[1]) : [];
  }

  beforeAll(async () => {
    anvil = await startAnvil({ port: await freePort(), chainId: inject('chainId') });
    databaseUrl = await freshDatabase('rotsettle');
    t = await createTestApp({
      env: { CHAIN_RPC_URL: anvil.url, DATABASE_URL: databaseUrl, PLATFORM_FOUR_EYES: 'true', TX_STUCK_AFTER_SECONDS: '2' },
    });
    admin = await adminToken(t.url);
    const loginId = uniq('settle-admin');
    const a = await http(t.url, 'POST', '/v1/admins', { token: admin, body: { loginId, name: 'Second', email: `${loginId}@example.jp` } });
    const pw = `second-admin-${uniq('pw')}`;
    await http(t.url, 'POST', '/v1/auth/activate', { body: { loginId, activationCode: a.body.activationCode, newPassword: pw } });
    admin2 = await login(t.url, loginId, pw);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await anvil?.stop();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  it("consumes a stuck old-key transaction's nonce with a 0-value self-transfer; the issue lands once, signed by the new key", async () => {
    const f = await firm(['SO1', 'SO2']);
    const old = getAddress(f.op.signerAddress);
    const stuck = await stuckIssue(f, '5');
    const rot = await rotate(f);

    // After the bounded wait the rotation's self-transfer replaces the stuck issue in the pool.
    let consumption: { hash: Hex; to: Address | null; nonce: Hex; value: Hex } | undefined;
    const waitStarted = Date.now();
    while (!consumption && Date.now() - waitStarted < 40_000) {
      consumption = (await pooled(old)).find((x) => x.to && getAddress(x.to) === old && Number(x.nonce) === stuck.nonce);
      if (!consumption) await new Promise((res) => setTimeout(res, 200));
    }
    expect(consumption, 'a self-transfer of the old address at the stuck nonce').toBeDefined();
    expect(BigInt(consumption!.value)).toBe(0n);
    process.stderr.write(`[rotation-settle] stuck nonce consumed ${Date.now() - waitStarted} ms after approval\n`);
    await rpc('evm_setAutomine', [true]);
    await rpc('evm_mine', []);

    const done = await finished(rot.id, 90_000);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(done.steps.map((s: { kind: string }) => s.kind)).toEqual([
      'hold-queue',
      'settle-old',
      'grant-agent',
      'grant-agent',
      'revoke-agent',
      'revoke-agent',
      'destroy-old-key',
    ]);
    const next = getAddress(done.newAddress);
    // The nonce went to the self-transfer; no hash the old key signed for the issue was mined.
    const receipt = await chain().getTransactionReceipt({ hash: consumption!.hash });
    expect(receipt.status).toBe('success');
    expect(getAddress(receipt.from)).toBe(old);
    expect(getAddress(receipt.to!)).toBe(old);
    await expect(chain().getTransactionReceipt({ hash: stuck.txHash })).rejects.toThrow();

    // The issue, re-queued, was signed by the new key and landed exactly once.
    await expect.poll(async () => (await getTx(f.op.token, stuck.id)).status, { timeout: 30_000, interval: 250 }).toBe('confirmed');
    const issue = await getTx(f.op.token, stuck.id);
    expect(getAddress((await chain().getTransaction({ hash: issue.txHash })).from)).toBe(next);
    for (const h of issue.replacedTxHashes as Hex[])
      if (h !== consumption!.hash) await expect(chain().getTransactionReceipt({ hash: h })).rejects.toThrow();
    expect(await read(f.tokens[0]!.address, 'balanceOf', [f.user.address])).toBe(15n);
    for (const tk of f.tokens) {
      expect(await read(tk.address, 'hasRole', [AGENT_ROLE, next])).toBe(true);
      expect(await read(tk.address, 'hasRole', [AGENT_ROLE, old])).toBe(false);
    }
  }, 150_000);

  it('rotation of a key KMS refuses to open: the old address loses the agent role first, the rotation completes, the new key signs', async () => {
    const f = await firm(['SR1', 'SR2']);
    const old = getAddress(f.op.signerAddress);
    const stuck = await stuckIssue(f, '3');
    // The node cannot mine it (no gas left) and forgets it; kagi keeps it `submitted` and re-sends it.
    await rpc('anvil_setBalance', [old, '0x0']);
    await rpc('anvil_dropTransaction', [stuck.txHash]);
    await rpc('evm_setAutomine', [true]);
    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      // One flipped byte: the envelope no longer authenticates, KMS-backed opening is refused.
      await db.query(
        `UPDATE operators SET encrypted_key = overlay(encrypted_key placing decode(lpad(to_hex(get_byte(encrypted_key, length(encrypted_key) - 1) # 255), 2, '0'), 'hex') from length(encrypted_key) for 1) WHERE id = $1`,
        [f.op.id],
      );
    } finally {
      await db.end();
    }
    const rot = await rotate(f);
    const started = Date.now();
    const done = await finished(rot.id, 90_000);
    process.stderr.write(`[rotation-settle] refused key rotated in ${Date.now() - started} ms (approval to completed)\n`);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(done.steps.map((s: { kind: string }) => s.kind)).toEqual([
      'hold-queue',
      'settle-old',
      'revoke-agent',
      'revoke-agent',
      'grant-agent',
      'grant-agent',
      'destroy-old-key',
    ]);
    const next = getAddress(done.newAddress);
    for (const tk of f.tokens) {
      expect(await read(tk.address, 'hasRole', [AGENT_ROLE, next])).toBe(true);
      expect(await read(tk.address, 'hasRole', [AGENT_ROLE, old])).toBe(false);
    }
    const revokeFirst: unknown[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const q: string = `/v1/audit-events?actorType=system&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const audit = await http(t.url, 'GET', q, { token: admin });
      expect(audit.status, audit.text).toBe(200);
      revokeFirst.push(
        ...audit.body.items.filter(
          (e: { action: string; subject: { id: string } }) => e.action === 'rotation.revoke-first' && e.subject.id === rot.id,
        ),
      );
      cursor = audit.body.nextCursor;
      if (!cursor) break;
    }
    expect(revokeFirst).toHaveLength(1);

    // An issue afterwards is signed by the new address.
    const op2 = await login(t.url, f.op.loginId, f.op.password);
    const issue = await http(t.url, 'POST', `/v1/tokens/${f.tokens[1]!.id}/issue`, {
      token: op2,
      body: { userId: f.user.id, amount: '7' },
      headers: WAIT,
    });
    expect(issue.body.status, issue.text).toBe('confirmed');
    expect(getAddress((await chain().getTransaction({ hash: issue.body.txHash })).from)).toBe(next);
    expect(await read(f.tokens[1]!.address, 'balanceOf', [f.user.address])).toBe(17n);

    // The old key's stuck issue, once the node can take it, reverts: nothing is minted by it.
    expect((await getTx(op2, stuck.id)).status).toBe('submitted');
    await rpc('anvil_setBalance', [old, toHex(parseEther('1'))]);
    await expect.poll(async () => (await getTx(op2, stuck.id)).status, { timeout: 30_000, interval: 250 }).toBe('failed');
    expect(await read(f.tokens[0]!.address, 'balanceOf', [f.user.address])).toBe(10n);
  }, 150_000);
});
