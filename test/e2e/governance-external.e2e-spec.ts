/**
 * GOVERNANCE_SIGNER=external: a multisig (here an account only this test holds) is every token's
 * admin. kagi signs nothing as governance: each governance transaction stays
 * `awaiting_signature` with an unsigned proposal in `GET /v1/governance/proposals`; the test
 * executes the proposals itself, and kagi recognises each execution by its effect on chain.
 */
import { createPublicClient, createWalletClient, getAddress, http as viemHttp, toHex, type Address, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, type OperatorFixture } from '../support/api';
import { dropDatabase, freshDatabase } from '../support/db';
import { ADMIN_ROLE, AGENT_ROLE, anvilChain } from '../support/security-token';

const LEGAL = { code: 'regulatory', reference: 'external governance e2e' };

describe('governance through an external signer (multisig proposals)', () => {
  const multisig = privateKeyToAccount(generatePrivateKey());
  const chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')) });
  const wallet = createWalletClient({ account: multisig, chain: anvilChain(), transport: viemHttp(inject('rpcUrl')) });
  let databaseUrl: string;
  let t: TestApp;
  let admin: string;
  let op: OperatorFixture;
  let token: { id: string; address: Address };

  beforeAll(async () => {
    await chain.request({ method: 'anvil_setBalance' as never, params: [multisig.address, toHex(10n ** 20n)] as never });
    databaseUrl = await freshDatabase('govexternal');
    t = await createTestApp({ env: { DATABASE_URL: databaseUrl, GOVERNANCE_SIGNER: 'external', GOVERNANCE_ADDRESS: multisig.address } });
    admin = await adminToken(t.url);
    op = await createOperator(t.url, admin);
    const r = await http(t.url, 'POST', '/v1/tokens', {
      token: op.token,
      body: { name: 'Multisig governed', symbol: 'MSG', decimals: 0 },
      headers: { prefer: 'wait=30' },
    });
    expect(r.body.status, r.text).toBe('active');
    token = { id: r.body.id, address: getAddress(r.body.address) };
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  const read = (functionName: 'governancePaused', args: [] = []) =>
    chain.readContract({ address: token.address, abi: securityTokenAbi, functionName, args });
  const hasRole = (role: Hex, who: Address) =>
    chain.readContract({ address: token.address, abi: securityTokenAbi, functionName: 'hasRole', args: [role, who] });
  const statusOf = async (id: string) => (await http(t.url, 'GET', `/v1/transactions/${id}`, { token: admin })).body.status as string;

  it("makes the multisig every token's admin; the firm's key is agent only", async () => {
    expect(await hasRole(ADMIN_ROLE, multisig.address)).toBe(true);
    expect(await hasRole(ADMIN_ROLE, op.signerAddress)).toBe(false);
    expect(await hasRole(AGENT_ROLE, op.signerAddress)).toBe(true);
  });

  it('proposes the emergency pause unsigned, waits for the multisig, and confirms each call once its effect is on chain', async () => {
    // Only admins read the proposals (asked before the pause suspends the firm).
    expect((await http(t.url, 'GET', '/v1/governance/proposals', { token: op.token })).status).toBe(403);
    const r = await http(t.url, 'POST', `/v1/operators/${op.id}/emergency-pause`, { token: admin, body: { legalBasis: LEGAL } });
    expect(r.status, r.text).toBe(202);
    const txs = r.body.transactions as Array<{ id: string; kind: string; status: string }>;
    expect(txs.map((x) => x.kind).sort()).toEqual(['governance-pause', 'revoke-agent']);
    for (const x of txs) expect(x.status).toBe('awaiting_signature');

    const list = await http(t.url, 'GET', '/v1/governance/proposals?status=open', { token: admin });
    expect(list.status, list.text).toBe(200);
    const proposals = list.body.items as Array<{
      id: string;
      transactionId: string;
      to: string;
      data: Hex;
      value: string;
      chainId: number;
      description: string;
      status: string;
    }>;
    expect(proposals.map((p) => p.transactionId).sort()).toEqual(txs.map((x) => x.id).sort());
    for (const p of proposals) {
      expect(p).toMatchObject({ to: token.address, value: '0', chainId: await chain.getChainId(), status: 'open' });
      expect(p.description).toContain(token.id);
    }
    const byKind = (k: string) => proposals.find((p) => p.transactionId === txs.find((x) => x.kind === k)!.id)!;

    // Nothing happens on chain by itself: kagi holds no governance key.
    await new Promise((res) => setTimeout(res, 4000));
    expect(await read('governancePaused')).toBe(false);
    for (const x of txs) expect(await statusOf(x.id)).toBe('awaiting_signature');

    // The multisig executes the pause: that row is confirmed, the revoke still waits.
    const pause = byKind('governance-pause');
    const h1 = await wallet.sendTransaction({ to: getAddress(pause.to), data: pause.data, value: 0n });
    expect((await chain.waitForTransactionReceipt({ hash: h1 })).status).toBe('success');
    const pauseTx = txs.find((x) => x.kind === 'governance-pause')!.id;
    await expect.poll(() => statusOf(pauseTx), { timeout: 30_000, interval: 250 }).toBe('confirmed');
    expect(await statusOf(txs.find((x) => x.kind === 'revoke-agent')!.id)).toBe('awaiting_signature');
    expect(await read('governancePaused')).toBe(true);

    const revoke = byKind('revoke-agent');
    const h2 = await wallet.sendTransaction({ to: getAddress(revoke.to), data: revoke.data, value: 0n });
    expect((await chain.waitForTransactionReceipt({ hash: h2 })).status).toBe('success');
    const revokeTx = txs.find((x) => x.kind === 'revoke-agent')!.id;
    await expect.poll(() => statusOf(revokeTx), { timeout: 30_000, interval: 250 }).toBe('confirmed');
    expect(await hasRole(AGENT_ROLE, op.signerAddress)).toBe(false);

    const after = await http(t.url, 'GET', '/v1/governance/proposals', { token: admin });
    for (const p of after.body.items as Array<{ transactionId: string; status: string }>)
      if (txs.some((x) => x.id === p.transactionId)) expect(p.status).toBe('executed');
    expect((await http(t.url, 'GET', '/v1/governance/proposals?status=open', { token: admin })).body.items).toEqual([]);
    // The confirmations are audited as the external signer's.
    const audit = await http(t.url, 'GET', '/v1/audit-events?limit=100', { token: admin });
    const confirmed = (audit.body.items as Array<{ action: string; subject: { id: string }; details: Record<string, unknown> }>).filter(
      (e) => e.action === 'transaction.confirmed' && txs.some((x) => x.id === e.subject.id),
    );
    expect(confirmed).toHaveLength(2);
    for (const e of confirmed) expect(e.details.executedBy).toBe('external-signer');
  }, 120_000);
});
