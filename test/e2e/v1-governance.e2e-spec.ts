/**
 * Version 1 tokens under governance and in bulk (issues 14 item 6 and 19), over HTTP and the
 * built CLI, every chain effect read back with a viem client of the test's own:
 * - tokens whose admin is an old governance key: readiness shows the mismatch (status still up);
 *   `governance:handover` (a child process of dist/) lists the plan, then with `--yes` and the
 *   old key on stdin moves the admin role to the configured governance and renounces the old
 *   one; a second run skips every token; readiness no longer shows the mismatch;
 * - a batch on a v1 token runs one transaction per row;
 * - a batch whose row the chain refuses after acceptance (the receiver frozen while the batch
 *   waited for approval): that row `failed` with the reason, the others confirmed, the batch
 *   `partially_failed`, nothing rolled back;
 * - the emergency pause of a firm with v1 tokens: governance grants itself the agent role,
 *   pauses, revokes the firm's key; the emergency unpause lifts the pause and re-grants nothing.
 */
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  http as viemHttp,
  keccak256,
  parseEventLogs,
  toHex,
  type Address,
  type Hex,
  type PublicClient,
} from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { securityTokenV1Abi } from '../../src/chain/contracts/security-token-v1.abi';
import { adminToken, createOperator, uniq, type OperatorFixture } from '../support/api';
import { createTestApp, http, testEnv, type TestApp } from '../support/app';
import { freshDatabase } from '../support/db';
import { recordChild } from '../support/recording';
import { findSecrets } from '../support/secrets';
import { deployV1 } from '../support/security-token';

const root = process.cwd();
const WAIT = { prefer: 'wait=30' };
const ADMIN_ROLE: Hex = `0x${'00'.repeat(32)}`;
const AGENT_ROLE = keccak256(toHex('AGENT_ROLE'));
const LEGAL = { code: 'regulatory', reference: 'FSA order 2026-91', note: 'v1 token test' };

function cli(
  args: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [join(root, 'dist', 'src', 'cli', 'main.js'), ...args], {
      cwd: root,
      env: { ...process.env, ...testEnv({ LOG_LEVEL: 'error', ...env }), AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    recordChild(child, ['cli', ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => res({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

describe('v1 tokens: governance handover, emergency pause and batches', () => {
  let databaseUrl: string;
  let t: TestApp | undefined;
  let admin: string;
  let chain: PublicClient;
  let governance: Address;
  /** The handover firm: two v1 tokens under the old key, one token kagi deployed (already governed). */
  let op: OperatorFixture;
  /** The batch firm: one v1 token governed by kagi from the start, three investors. */
  let bulk: OperatorFixture;
  const oldKey = generatePrivateKey();
  const oldAdmin = privateKeyToAccount(oldKey).address;
  const legacy: Array<{ id: string; address: Address }> = [];
  let modern: { id: string; address: Address };
  let v1: { id: string; address: Address };
  const investors: Array<{ id: string; address: Address }> = [];

  const sql = async (q: string, params: unknown[] = []) => {
    const c = new Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      return (await c.query(q, params)).rows;
    } finally {
      await c.end();
    }
  };
  const read = <T>(address: Address, functionName: string, args: readonly unknown[] = []) =>
    chain.readContract({ address, abi: securityTokenV1Abi, functionName: functionName as never, args }) as Promise<T>;
  const hasRole = (token: Address, role: Hex, who: Address) => read<boolean>(token, 'hasRole', [role, who]);
  const balanceOf = (token: Address, who: Address) => read<bigint>(token, 'balanceOf', [who]);
  const req = (method: string, path: string, tok: string, body?: unknown, headers: Record<string, string> = {}) =>
    http(t!.url, method, path, { token: tok, body, headers });
  const readiness = async () => {
    const r = await http(t!.url, 'GET', '/health/ready');
    expect(r.status, r.text).toBe(200);
    return r.body.details.tokenAdmins as { status: string; governance?: string; pending?: string; mismatches?: Array<{ tokenId: string }> };
  };
  const cliEnv = () => ({ DATABASE_URL: databaseUrl });

  async function until<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, ms = 60_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function investor(f: OperatorFixture, name: string) {
    const u = await req('POST', '/v1/users', f.token, { name, email: `${uniq('i')}@example.jp` });
    expect(u.status, u.text).toBe(201);
    const w = await fetch(`${t!.url}/v1/users/${u.body.id}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(w.status).toBe(201);
    await w.arrayBuffer();
    return { id: u.body.id as string, address: getAddress(w.headers.get('x-wallet-address')!) };
  }

  /** A v1 token row as a pre-v2 kagi wrote it (active, signed by the firm's key). */
  const insertV1 = (id: string, f: OperatorFixture, address: Address, symbol: string) =>
    sql(
      `INSERT INTO tokens (id, operator_id, name, symbol, decimals, signer_kind, signer_id, signer_address, address, status, contract_version, holder_transfers, deploy_transaction_id)
       VALUES ($1, $2, $3, $4, 0, 'operator', $2, $5, $6, 'active', 1, true, $7)`,
      [id, f.id, `Legacy ${symbol}`, symbol, getAddress(f.signerAddress), address, randomUUID()],
    );

  const restart = async () => {
    await t?.close();
    t = await createTestApp({ env: { DATABASE_URL: databaseUrl } });
    admin = await adminToken(t.url);
    for (const f of [op, bulk])
      f.token = (await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: f.loginId, password: f.password } })).body.accessToken;
  };

  beforeAll(async () => {
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'ignore' });
    chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')), pollingInterval: 50 });
    databaseUrl = await freshDatabase('v1gov');
    t = await createTestApp({ env: { DATABASE_URL: databaseUrl } });
    admin = await adminToken(t.url);
    // Governance's address as readiness shows it (on a fresh database the development key is created on first use).
    const shown = await until(
      "governance's address in readiness",
      async () => (await http(t!.url, 'GET', '/health/ready')).body?.details?.governance?.address as string | undefined,
      (a) => !!a,
    );
    governance = getAddress(shown!);
    op = await createOperator(t.url, admin);
    bulk = await createOperator(t.url, admin);

    // The old governance key pays its own gas (set on the node: no shared account's nonce involved).
    await chain.request({ method: 'anvil_setBalance' as never, params: [oldAdmin, toHex(10n ** 19n)] as never });
    for (const symbol of ['OLD1', 'OLD2']) {
      const address = getAddress(
        await deployV1({ admin: oldAdmin, agent: getAddress(op.signerAddress), name: `Legacy ${symbol}`, symbol }),
      );
      const id = randomUUID();
      await insertV1(id, op, address, symbol);
      legacy.push({ id, address });
    }
    const m = await req('POST', '/v1/tokens', op.token, { name: 'Governed Bond', symbol: 'GVB', decimals: 0 }, WAIT);
    expect(m.body.status, m.text).toBe('active');
    modern = { id: m.body.id, address: getAddress(m.body.address) };

    const address = getAddress(
      await deployV1({ admin: governance, agent: getAddress(bulk.signerAddress), name: 'Bulk Legacy', symbol: 'BLK1' }),
    );
    v1 = { id: randomUUID(), address };
    await insertV1(v1.id, bulk, address, 'BLK1');
    for (const n of ['一郎', '二郎', '三郎']) investors.push(await investor(bulk, `投資家 ${n}`));
    // Active tokens are cached and the admin check runs at start-up: start again on this state.
    await restart();
  }, 240_000);
  afterAll(async () => {
    await t?.close();
  });

  describe('governance:handover', () => {
    it('readiness shows the v1 tokens whose admin is not the configured governance, and stays 200', async () => {
      const ready = await until('the admin check', readiness, (d) => !d.pending);
      expect(ready.status).toBe('up');
      expect(getAddress(ready.governance!)).toBe(governance);
      expect(ready.mismatches!.map((x) => x.tokenId).sort()).toEqual(legacy.map((x) => x.id).sort());
      for (const x of legacy) {
        expect(await hasRole(x.address, ADMIN_ROLE, oldAdmin)).toBe(true);
        expect(await hasRole(x.address, ADMIN_ROLE, governance)).toBe(false);
      }
    });

    it('lists the plan by default and sends nothing', async () => {
      const r = await cli(['governance:handover', '--from', oldAdmin, '--calldata'], cliEnv());
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toContain(`from ${oldAdmin} to ${governance}`);
      for (const x of legacy)
        expect(r.stdout).toMatch(
          new RegExp(`${x.id} OLD\\d ${x.address} \\(v1\\): would grant the admin role to governance, then renounce`),
        );
      expect(r.stdout).toMatch(new RegExp(`${modern.id} GVB ${modern.address} \\(v2\\): already handed over, skipped`));
      // The bulk firm's token is governed already too.
      expect(r.stdout).toContain(`${v1.id} BLK1 ${v1.address} (v1): already handed over, skipped`);
      expect(r.stdout).toContain('dry run: 2 to hand over, 2 already handed over, 0 refused');
      expect(r.stdout).toMatch(/to=0x[0-9a-fA-F]{40} data=0x2f2ff15d/); // grantRole(bytes32,address)
      for (const x of legacy) expect(await hasRole(x.address, ADMIN_ROLE, oldAdmin)).toBe(true);
    }, 60_000);

    it('refuses a key that is not the old admin’s, sending nothing', async () => {
      const other = generatePrivateKey();
      const r = await cli(['governance:handover', '--from', oldAdmin, '--yes'], cliEnv(), `${other}\n`);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`that key is not the key of ${oldAdmin}; nothing was sent`);
      expect(findSecrets(r.stdout + r.stderr, [Buffer.from(other.slice(2), 'hex')])).toEqual([]);
      for (const x of legacy) expect(await hasRole(x.address, ADMIN_ROLE, oldAdmin)).toBe(true);
    }, 60_000);

    it('with --yes and the old key on stdin moves the admin role to governance and renounces the old one; readiness clears', async () => {
      const r = await cli(['governance:handover', '--from', oldAdmin, '--yes'], cliEnv(), `${oldKey}\n`);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toContain('done: 2 handed over, 2 already handed over (skipped), 0 refused');
      expect(findSecrets(r.stdout + r.stderr, [Buffer.from(oldKey.slice(2), 'hex')])).toEqual([]);
      for (const x of legacy) {
        expect(await hasRole(x.address, ADMIN_ROLE, governance)).toBe(true);
        expect(await hasRole(x.address, ADMIN_ROLE, oldAdmin)).toBe(false);
        // The agent is untouched.
        expect(await hasRole(x.address, AGENT_ROLE, getAddress(op.signerAddress))).toBe(true);
        // Each grant and renounce was sent by the old admin (the hashes the CLI printed).
        const line = r.stdout.split('\n').find((l) => l.includes(x.id))!;
        const hashes = [...line.matchAll(/0x[0-9a-f]{64}/g)].map((h) => h[0] as Hex);
        expect(hashes).toHaveLength(2);
        for (const hash of hashes) {
          const receipt = await chain.getTransactionReceipt({ hash });
          expect(getAddress(receipt.from)).toBe(oldAdmin);
          expect(getAddress(receipt.to!)).toBe(x.address);
        }
      }
      const ready = await readiness();
      expect(ready.status).toBe('up');
      expect(ready.mismatches).toEqual([]);
      const audit = await sql(`SELECT outcome, subject_id FROM audit_events WHERE action = 'governance.handover' ORDER BY subject_id`);
      expect(audit).toEqual(
        legacy.map((x) => ({ outcome: 'success', subject_id: x.id })).sort((a, b) => a.subject_id.localeCompare(b.subject_id)),
      );
    }, 120_000);

    it('a second run skips every token, asking for no key', async () => {
      const r = await cli(['governance:handover', '--from', oldAdmin, '--yes'], cliEnv());
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toContain('done: 0 handed over, 4 already handed over (skipped), 0 refused');
    }, 60_000);
  });

  describe('batches on a v1 token', () => {
    const batchOf = async (id: string) => (await req('GET', `/v1/batches/${id}`, bulk.token)).body;
    const itemsOf = async (id: string) => (await req('GET', `/v1/batches/${id}/items`, bulk.token)).body.items as any[];
    const settled = (id: string) =>
      until(
        `batch ${id}`,
        () => batchOf(id),
        (b: { status: string }) => !['running', 'pending_approval'].includes(b.status),
        90_000,
      );

    it('runs one transaction per row: each row its own mint, every balance as its row says', async () => {
      const amounts = [10n, 20n, 30n];
      const r = await req('POST', `/v1/tokens/${v1.id}/batches`, bulk.token, {
        kind: 'issue',
        items: investors.map((u, i) => ({ userId: u.id, amount: amounts[i]!.toString() })),
      });
      expect(r.status, r.text).toBe(202);
      const done = await settled(r.body.id);
      expect(done).toMatchObject({ status: 'completed', total: 3, counts: { valid: 3, invalid: 0, confirmed: 3, failed: 0 } });
      const items = await itemsOf(r.body.id);
      expect(items.map((i) => [i.row, i.status])).toEqual([
        [1, 'confirmed'],
        [2, 'confirmed'],
        [3, 'confirmed'],
      ]);
      expect(new Set(items.map((i) => i.transactionId)).size).toBe(3);
      for (const [i, item] of items.entries()) {
        const tx = (await req('GET', `/v1/transactions/${item.transactionId}`, bulk.token)).body;
        expect(tx).toMatchObject({ kind: 'issue', status: 'confirmed' });
        const receipt = await chain.getTransactionReceipt({ hash: tx.txHash });
        expect(getAddress(receipt.to!)).toBe(v1.address);
        expect(getAddress(receipt.from)).toBe(getAddress(bulk.signerAddress));
        const transfers = parseEventLogs({ abi: securityTokenV1Abi, logs: receipt.logs, eventName: 'Transfer' });
        expect(transfers.map((l) => [l.args.to, l.args.value])).toEqual([[investors[i]!.address, amounts[i]]]);
        expect(await balanceOf(v1.address, investors[i]!.address)).toBe(amounts[i]);
      }
      expect(await read<bigint>(v1.address, 'totalSupply')).toBe(60n);
    }, 120_000);

    it('a row refused at the last approval (receiver frozen while the batch waited) fails alone in a non-atomic batch; the batch is partially_failed', async () => {
      const checkerLogin = uniq('chk');
      const staff = await req('POST', `/v1/operators/${bulk.id}/staff`, bulk.token, {
        loginId: checkerLogin,
        name: 'チェッカー',
        email: `${checkerLogin}@example.jp`,
        roles: ['checker'],
      });
      expect(staff.status, staff.text).toBe(201);
      const act = await http(t!.url, 'POST', '/v1/auth/activate', {
        body: { loginId: checkerLogin, activationCode: staff.body.activationCode, newPassword: `member-${uniq('pw')}` },
      });
      expect(act.status, act.text).toBe(200);
      const policy = await req('PUT', `/v1/operators/${bulk.id}/policy`, bulk.token, {
        rules: [{ kinds: ['issue'], minAmount: '100', approvals: 1 }],
      });
      expect(policy.status, policy.text).toBe(200);

      const before = await Promise.all(investors.map((u) => balanceOf(v1.address, u.address)));
      const r = await req('POST', `/v1/tokens/${v1.id}/batches`, bulk.token, {
        kind: 'issue',
        atomic: false,
        items: investors.map((u) => ({ userId: u.id, amount: '50' })),
      });
      expect(r.status, r.text).toBe(202);
      expect(r.body.status).toBe('pending_approval');
      // Accepted, waiting; now the second receiver is frozen on chain.
      const freeze = await req('POST', `/v1/tokens/${v1.id}/freeze`, bulk.token, { userId: investors[1]!.id, legalBasis: LEGAL }, WAIT);
      expect(freeze.body.status, freeze.text).toBe('confirmed');
      expect(await read<boolean>(v1.address, 'isFrozen', [investors[1]!.address])).toBe(true);

      const ok = await req('POST', `/v1/batches/${r.body.id}/approve`, act.body.accessToken, { comment: '確認済み' });
      expect(ok.status, ok.text).toBe(200);
      const done = await settled(r.body.id);
      expect(done).toMatchObject({ status: 'partially_failed', counts: { confirmed: 2, failed: 1 } });
      const items = await itemsOf(r.body.id);
      expect(items.map((i) => [i.row, i.status])).toEqual([
        [1, 'confirmed'],
        [2, 'failed'],
        [3, 'confirmed'],
      ]);
      // The last approval validated the waiting rows again: the frozen receiver's row was refused
      // there, so nothing was sent for it.
      expect(items[1].error).toMatchObject({ code: 'ADDRESS_FROZEN' });
      expect(items[1].transactionId).toBeNull();
      // Nothing rolled back, nothing half-done: the others got theirs, the frozen one nothing.
      const after = await Promise.all(investors.map((u) => balanceOf(v1.address, u.address)));
      expect(after).toEqual([before[0]! + 50n, before[1]!, before[2]! + 50n]);
      // The per-row report says the same.
      const csv = await fetch(`${t!.url}/v1/batches/${r.body.id}/items`, {
        headers: { authorization: `Bearer ${bulk.token}`, accept: 'text/csv' },
      });
      const lines = (await csv.text()).trim().split(/\r?\n/);
      expect(lines).toHaveLength(4);
      expect(lines[2]).toContain('failed');
      expect(lines[2]).toContain('ADDRESS_FROZEN');
    }, 150_000);
  });

  describe('emergency pause of a firm with v1 tokens', () => {
    it('grants governance the agent role, pauses, revokes the firm’s key on each v1 token (governance flag on the v2 one)', async () => {
      const agent = getAddress(op.signerAddress);
      const r = await req('POST', `/v1/operators/${op.id}/emergency-pause`, admin, { legalBasis: LEGAL });
      expect(r.status, r.text).toBe(202);
      expect(r.body.transactions.map((x: { kind: string }) => x.kind).sort()).toEqual([
        'governance-pause',
        'grant-agent',
        'grant-agent',
        'revoke-agent',
      ]);
      // Each v1 token: the three governance steps, each confirmed and sent by governance, each with its effect on chain.
      for (const x of legacy) {
        const rows = await until(
          `the v1 emergency steps of ${x.id}`,
          async () => (await req('GET', `/v1/transactions?tokenId=${x.id}&limit=100`, admin)).body.items as any[],
          (items) =>
            ['grant-agent', 'pause', 'revoke-agent'].every((k) =>
              items.some((i) => i.kind === k && ['confirmed', 'failed'].includes(i.status)),
            ),
          90_000,
        );
        const step = (kind: string) => rows.find((i) => i.kind === kind);
        for (const kind of ['grant-agent', 'pause', 'revoke-agent']) {
          expect(step(kind).status, JSON.stringify(step(kind))).toBe('confirmed');
          const onChain = await chain.getTransaction({ hash: step(kind).txHash });
          expect(getAddress(onChain.from)).toBe(governance);
          expect(getAddress(onChain.to!)).toBe(x.address);
        }
        // Each step's own effect, from its receipt's events; in that order on chain: grant, then pause, then revoke.
        const receipts = await Promise.all(
          ['grant-agent', 'pause', 'revoke-agent'].map((k) => chain.getTransactionReceipt({ hash: step(k).txHash })),
        );
        const effects = receipts.map((rc) =>
          parseEventLogs({ abi: securityTokenV1Abi, logs: rc.logs }).map(
            (l) => `${l.eventName}(${Object.values(l.args as object).join(',')})`,
          ),
        );
        expect(effects).toEqual([
          [`RoleGranted(${AGENT_ROLE},${governance},${governance})`],
          [`Paused(${governance})`],
          [`RoleRevoked(${AGENT_ROLE},${agent},${governance})`],
        ]);
        const blocks = receipts.map((rc) => rc.blockNumber);
        expect([...blocks].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(blocks);
        expect(await hasRole(x.address, AGENT_ROLE, governance)).toBe(true);
        expect(await read<boolean>(x.address, 'paused')).toBe(true);
        expect(await hasRole(x.address, AGENT_ROLE, agent)).toBe(false);
      }
      const gp = r.body.transactions.find((x: { kind: string }) => x.kind === 'governance-pause');
      await until(
        `governance pause ${gp.id}`,
        async () => (await req('GET', `/v1/transactions/${gp.id}`, admin)).body.status,
        (s) => s === 'confirmed',
      );
      expect(await chain.readContract({ address: modern.address, abi: [GOVERNANCE_PAUSED_ABI], functionName: 'governancePaused' })).toBe(
        true,
      );
    }, 180_000);

    it('the emergency unpause lifts the v1 pause (governance as agent) and re-grants the firm nothing', async () => {
      const r = await req('POST', `/v1/operators/${op.id}/emergency-unpause`, admin, { legalBasis: LEGAL });
      // PLATFORM_FOUR_EYES is off here: the platform action runs at once.
      expect(r.status, r.text).toBe(200);
      const kinds = r.body.transactions.map((x: { kind: string }) => x.kind).sort();
      expect(kinds).toEqual(['governance-unpause', 'unpause', 'unpause']);
      for (const x of r.body.transactions) {
        const done = await until(
          `unpause ${x.id}`,
          async () => (await req('GET', `/v1/transactions/${x.id}`, admin)).body,
          (b: { status: string; txHash: Hex }) => ['confirmed', 'failed'].includes(b.status),
        );
        expect(done.status, JSON.stringify(done)).toBe('confirmed');
        if (x.kind !== 'unpause') continue;
        // v1: governance lifts the pause as agent, and that is all the transaction does.
        const receipt = await chain.getTransactionReceipt({ hash: done.txHash });
        expect(getAddress(receipt.from)).toBe(governance);
        expect(parseEventLogs({ abi: securityTokenV1Abi, logs: receipt.logs }).map((l) => l.eventName)).toEqual(['Unpaused']);
      }
      for (const x of legacy) {
        expect(await read<boolean>(x.address, 'paused')).toBe(false);
        expect(await hasRole(x.address, AGENT_ROLE, getAddress(op.signerAddress))).toBe(false);
      }
    }, 120_000);
  });

  describe('governance:handover --from dev-key (a platform moving from the development key to KMS)', () => {
    it('refuses while the development key is the configured governance', async () => {
      const r = await cli(['governance:handover', '--from', 'dev-key'], cliEnv());
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`with GOVERNANCE_SIGNER=local the development key is the configured governance (${governance})`);
    }, 60_000);

    it('with GOVERNANCE_SIGNER=kms moves every token governed by the development key to the KMS key, opening the sealed key (audited)', async () => {
      const kms = new KMSClient({
        endpoint: inject('kmsEndpoint'),
        region: inject('kmsRegion'),
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      const key = await kms.send(
        new CreateKeyCommand({ KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'SIGN_VERIFY', Description: 'kagi e2e handover' }),
      );
      kms.destroy();
      const env = { ...cliEnv(), GOVERNANCE_SIGNER: 'kms', GOVERNANCE_KMS_KEY_ID: key.KeyMetadata!.Arn! };
      const all = [...legacy, modern, v1];
      for (const x of all) expect(await hasRole(x.address, ADMIN_ROLE, governance)).toBe(true);

      const plan = await cli(['governance:handover', '--from', 'dev-key'], env);
      expect(plan.code, plan.stderr + plan.stdout).toBe(0);
      const to = getAddress(/ to (0x[0-9a-fA-F]{40}) \(GOVERNANCE_SIGNER=kms\)/.exec(plan.stdout)![1]!);
      expect(plan.stdout).toContain(`from ${governance} to ${to}`);
      expect(plan.stdout).toContain('dry run: 4 to hand over, 0 already handed over, 0 refused');

      const r = await cli(['governance:handover', '--from', 'dev-key', '--yes'], env);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toContain('done: 4 handed over, 0 already handed over (skipped), 0 refused');
      for (const x of all) {
        expect(await hasRole(x.address, ADMIN_ROLE, to)).toBe(true);
        expect(await hasRole(x.address, ADMIN_ROLE, governance)).toBe(false);
      }
      const opens = await sql(
        `SELECT actor_type, outcome, subject_type FROM audit_events WHERE action = 'key.open' AND details->>'purpose' = 'governance:handover'`,
      );
      expect(opens).toEqual(all.map(() => ({ actor_type: 'cli', outcome: 'success', subject_type: 'governance-key' })));
    }, 120_000);
  });

  describe('governance:handover, resumed and refused', () => {
    it('a token where both hold the role (a run stopped after its grant) only renounces; one where neither does is refused (exit 1)', async () => {
      const key2 = generatePrivateKey();
      const old2 = privateKeyToAccount(key2);
      await chain.request({ method: 'anvil_setBalance' as never, params: [old2.address, toHex(10n ** 19n)] as never });
      const agent = getAddress(op.signerAddress);
      const both = { id: randomUUID(), address: getAddress(await deployV1({ admin: old2.address, agent, symbol: 'BOTH' })) };
      const neither = {
        id: randomUUID(),
        address: getAddress(await deployV1({ admin: privateKeyToAccount(generatePrivateKey()).address, agent, symbol: 'NONE' })),
      };
      await insertV1(both.id, op, both.address, 'BOTH');
      await insertV1(neither.id, op, neither.address, 'NONE');
      // The first half of a handover, done before: governance already holds the role beside the old key.
      const wallet = createWalletClient({
        account: old2,
        transport: viemHttp(inject('rpcUrl')),
        chain: defineChain({
          id: inject('chainId'),
          name: 'anvil',
          nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
          rpcUrls: { default: { http: [inject('rpcUrl')] } },
        }),
      });
      const grant = await wallet.writeContract({
        address: both.address,
        abi: securityTokenV1Abi,
        functionName: 'grantRole',
        args: [ADMIN_ROLE, governance],
      });
      expect((await chain.waitForTransactionReceipt({ hash: grant })).status).toBe('success');

      const r = await cli(
        ['governance:handover', '--from', old2.address, '--yes', '--token', both.id, '--token', neither.id],
        cliEnv(),
        `${key2}\n`,
      );
      expect(r.code, r.stderr + r.stdout).toBe(1);
      expect(r.stdout).toContain(`${governance} (GOVERNANCE_SIGNER=local): 2 active token(s), acting`);
      expect(r.stdout).toContain(
        `${neither.id} NONE ${neither.address} (v1): REFUSED: neither ${old2.address} nor governance ${governance} holds the admin role`,
      );
      const line = r.stdout.split('\n').find((l) => l.includes(both.id))!;
      expect(line).toMatch(/: handed over \(renounce 0x[0-9a-f]{64}\)$/);
      expect(r.stdout).toContain('done: 1 handed over, 0 already handed over (skipped), 1 refused');
      expect(await hasRole(both.address, ADMIN_ROLE, governance)).toBe(true);
      expect(await hasRole(both.address, ADMIN_ROLE, old2.address)).toBe(false);
      // Only the renounce was sent for it: one transaction from the old key after its own grant.
      expect(await chain.getTransactionCount({ address: old2.address })).toBe(2);
      expect(findSecrets(r.stdout + r.stderr, [Buffer.from(key2.slice(2), 'hex')])).toEqual([]);
    }, 120_000);
  });
});

const GOVERNANCE_PAUSED_ABI = {
  type: 'function',
  name: 'governancePaused',
  stateMutability: 'view',
  inputs: [],
  outputs: [{ type: 'bool', name: '' }],
} as const;
