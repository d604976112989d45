/** Token operations end to end: HTTP in, chain effects checked with independent viem reads. */
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  http as viemHttp,
  keccak256,
  parseEther,
  stringToBytes,
  type Address,
  type PublicClient,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, type OperatorFixture } from '../support/api';
import { pdfText, printedPrivateKey } from '../support/pdf';

const WAIT = { prefer: 'wait=30' };

describe('token operations', () => {
  let t: TestApp;
  let admin: string;
  let op: OperatorFixture;
  let chain: PublicClient;
  let tokenId: string;
  let token: Address;
  const investors: Array<{ id: string; address: Address; key: `0x${string}` }> = [];

  const read = <T>(fn: string, args: readonly unknown[] = []) =>
    chain.readContract({ address: token, abi: securityTokenAbi, functionName: fn as never, args: args }) as Promise<T>;
  const post = (path: string, body: unknown, headers: Record<string, string> = WAIT, token_ = op.token) =>
    http(t.url, 'POST', path, { token: token_, body, headers });

  async function investor(name: string) {
    const u = await http(t.url, 'POST', '/v1/users', { token: op.token, body: { name, email: 'i@example.jp' } });
    const res = await fetch(`${t.url}/v1/users/${u.body.id}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const key = printedPrivateKey(await pdfText(Buffer.from(await res.arrayBuffer())));
    return { id: u.body.id as string, address: res.headers.get('x-wallet-address') as Address, key };
  }

  beforeAll(async () => {
    t = await createTestApp();
    admin = await adminToken(t.url);
    op = await createOperator(t.url, admin);
    chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')), pollingInterval: 50 });
    investors.push(await investor('投資家 一号'), await investor('投資家 二号'), await investor('投資家 三号'));
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('deploys a token with governance as admin and the operator key as agent only', async () => {
    // Holder transfers on: the closed-register rules of the holder's own transfers are tested below.
    const r = await post('/v1/tokens', { name: 'Kagi Bond', symbol: 'KB1', decimals: 0, holderTransfers: true });
    expect(r.status).toBe(200);
    expect(r.headers.get('preference-applied')).toBe('wait=30');
    expect(r.headers.get('location')).toBe(`/v1/transactions/${r.body.deployTransactionId}`);
    expect(r.body).toMatchObject({
      status: 'active',
      signer: { kind: 'operator', id: op.id, address: op.signerAddress },
      totalSupply: '0',
      paused: false,
      governancePaused: false,
      contractVersion: 2,
      holderTransfers: true,
    });
    tokenId = r.body.id;
    token = r.body.address;
    const AGENT = await read<`0x${string}`>('AGENT_ROLE');
    expect(await read('hasRole', [AGENT, op.signerAddress])).toBe(true);
    expect(await read('hasRole', [`0x${'00'.repeat(32)}`, op.signerAddress])).toBe(false);
    const deploy = await http(t.url, 'GET', `/v1/transactions/${r.body.deployTransactionId}`, { token: op.token });
    expect(deploy.body).toMatchObject({ kind: 'deploy', status: 'confirmed', from: op.signerAddress, nonce: expect.any(Number) });
    const onChain = await chain.getTransaction({ hash: deploy.body.txHash });
    expect(onChain.from.toLowerCase()).toBe(op.signerAddress.toLowerCase());
  });

  it('issues to an investor wallet exactly once per Idempotency-Key', async () => {
    const [a] = investors;
    const body = { userId: a!.id, amount: '1000' };
    const first = await post(`/v1/tokens/${tokenId}/issue`, body, { 'idempotency-key': 'issue-a-1' });
    expect(first.status).toBe(202);
    expect(first.headers.get('location')).toBe(`/v1/transactions/${first.body.id}`);
    const again = await post(`/v1/tokens/${tokenId}/issue`, body, { 'idempotency-key': 'issue-a-1' });
    expect(again.body.id).toBe(first.body.id);
    const other = await post(`/v1/tokens/${tokenId}/issue`, { ...body, amount: '1' }, { 'idempotency-key': 'issue-a-1' });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    await expect
      .poll(async () => (await http(t.url, 'GET', `/v1/transactions/${first.body.id}`, { token: op.token })).body.status, {
        timeout: 30_000,
      })
      .toBe('confirmed');
    expect(await read<bigint>('balanceOf', [a!.address])).toBe(1000n);
    expect(await read<bigint>('totalSupply')).toBe(1000n);
    const bal = await http(t.url, 'GET', `/v1/tokens/${tokenId}/balances/${a!.id}`, { token: op.token });
    expect(bal.body).toMatchObject({ userId: a!.id, address: a!.address, balance: '1000', frozen: false });
  });

  it('forces a transfer and redeems; refuses what the balance cannot cover, counting pending debits', async () => {
    const [a, b] = investors;
    const ft = await post(`/v1/tokens/${tokenId}/forced-transfer`, { fromUserId: a!.id, toUserId: b!.id, amount: '300', reason: '相続' });
    expect(ft.status).toBe(200);
    expect(ft.body.status).toBe('confirmed');
    expect(await read<bigint>('balanceOf', [b!.address])).toBe(300n);
    const tooMuch = await post(`/v1/tokens/${tokenId}/redeem`, { userId: a!.id, amount: '701' });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.code).toBe('INSUFFICIENT_BALANCE');
    const rd = await post(`/v1/tokens/${tokenId}/redeem`, { userId: a!.id, amount: '200', reason: 'partial redemption' });
    expect(rd.body.status).toBe('confirmed');
    expect(await read<bigint>('balanceOf', [a!.address])).toBe(500n);
    expect(await read<bigint>('totalSupply')).toBe(800n);
  });

  it('concurrent debits never spend one balance twice: exactly what the balance covers is accepted', async () => {
    const d = await investor('投資家 四号');
    const supply = await read<bigint>('totalSupply');
    expect((await post(`/v1/tokens/${tokenId}/issue`, { userId: d.id, amount: '500' })).body.status).toBe('confirmed');
    // Ten redeems of 100 at once against 500: five fit, five must be refused at acceptance.
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => post(`/v1/tokens/${tokenId}/redeem`, { userId: d.id, amount: '100' }, {})),
    );
    const accepted = answers.filter((r) => r.status === 202);
    const refused = answers.filter((r) => r.status === 409);
    expect(refused.map((r) => r.body.code)).toEqual(Array(5).fill('INSUFFICIENT_BALANCE'));
    expect(accepted).toHaveLength(5);
    await expect
      .poll(
        async () =>
          (await Promise.all(accepted.map((r) => http(t.url, 'GET', `/v1/transactions/${r.body.id}`, { token: op.token }))))
            .map((x) => x.body.status)
            .sort()
            .join(),
        { timeout: 30_000 },
      )
      .toBe(Array(5).fill('confirmed').join());
    expect(await read<bigint>('balanceOf', [d.address])).toBe(0n);
    expect(await read<bigint>('totalSupply')).toBe(supply);
  });

  it("freeze blocks the holder's own cold-key transfer; unfreeze restores it; unverified receivers are refused", async () => {
    const [a, b, c] = investors;
    const anvil = defineChain({
      id: inject('chainId'),
      name: 'anvil',
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [inject('rpcUrl')] } },
    });
    // Gas for the investor's own (cold-key) transaction, from Anvil's unlocked dev account.
    const [funder] = await chain.request<{ Method: 'eth_accounts'; Parameters: undefined; ReturnType: Address[] }>({
      method: 'eth_accounts',
    });
    await chain.waitForTransactionReceipt({
      hash: await chain.request<{
        Method: 'eth_sendTransaction';
        Parameters: [{ from: Address; to: Address; value: `0x${string}` }];
        ReturnType: `0x${string}`;
      }>({ method: 'eth_sendTransaction', params: [{ from: funder!, to: a!.address, value: `0x${parseEther('1').toString(16)}` }] }),
    });
    const holder = createWalletClient({ account: privateKeyToAccount(a!.key), chain: anvil, transport: viemHttp(inject('rpcUrl')) });
    const sim = (to: Address, amount: bigint) =>
      chain.simulateContract({ account: a!.address, address: token, abi: securityTokenAbi, functionName: 'transfer', args: [to, amount] });
    expect((await post(`/v1/tokens/${tokenId}/freeze`, { userId: a!.id })).body.status).toBe('confirmed');
    expect(await read('isFrozen', [a!.address])).toBe(true);
    await expect(sim(b!.address, 1n)).rejects.toThrow(/FrozenAddress/);
    expect((await post(`/v1/tokens/${tokenId}/unfreeze`, { userId: a!.id })).body.status).toBe('confirmed');
    const hash = await holder.writeContract({ address: token, abi: securityTokenAbi, functionName: 'transfer', args: [b!.address, 5n] });
    expect((await chain.waitForTransactionReceipt({ hash })).status).toBe('success');
    expect(await read<bigint>('balanceOf', [b!.address])).toBe(305n);
    // c never received anything: not on the register.
    await expect(sim(c!.address, 1n)).rejects.toThrow(/NotVerified/);
  }, 60_000);

  it('a default (v2) token lets no holder move tokens with a cold key: only agent powers move them', async () => {
    const [a, b] = investors;
    const r = await post('/v1/tokens', { name: 'Kagi Share', symbol: 'KS2', decimals: 0 });
    expect(r.body).toMatchObject({ status: 'active', contractVersion: 2, holderTransfers: false, governancePaused: false });
    expect(await chain.readContract({ address: r.body.address, abi: securityTokenAbi, functionName: 'holderTransfers' })).toBe(false);
    expect((await post(`/v1/tokens/${r.body.id}/issue`, { userId: a!.id, amount: '10' })).body.status).toBe('confirmed');
    // The copied paper key moves nothing (¶0018).
    await expect(
      chain.simulateContract({
        account: a!.address,
        address: r.body.address,
        abi: securityTokenAbi,
        functionName: 'transfer',
        args: [b!.address, 1n],
      }),
    ).rejects.toThrow(/HolderTransfersDisabled/);
    expect(
      (await post(`/v1/tokens/${r.body.id}/forced-transfer`, { fromUserId: a!.id, toUserId: b!.id, amount: '4', reason: 'test' })).body
        .status,
    ).toBe('confirmed');
    expect(
      await chain.readContract({ address: r.body.address, abi: securityTokenAbi, functionName: 'balanceOf', args: [b!.address] }),
    ).toBe(4n);
    // The investor's own 譲渡 goes through the firm on the investor's instruction: kind transfer, not coercive.
    const instruction = { reference: 'ORD-0001', receivedAt: '2026-12-01T09:30:00Z' };
    const moved = await post(`/v1/tokens/${r.body.id}/transfer`, { fromUserId: a!.id, toUserId: b!.id, amount: '1', instruction });
    expect(moved.body).toMatchObject({
      kind: 'transfer',
      status: 'confirmed',
      request: { fromUserId: a!.id, toUserId: b!.id, amount: '1', instruction },
    });
    expect(
      await chain.readContract({ address: r.body.address, abi: securityTokenAbi, functionName: 'balanceOf', args: [b!.address] }),
    ).toBe(5n);
    // Refused like any debit, and without an instruction it is not a transfer at all.
    expect(
      (await post(`/v1/tokens/${r.body.id}/transfer`, { fromUserId: a!.id, toUserId: b!.id, amount: '6', instruction })).body.code,
    ).toBe('INSUFFICIENT_BALANCE');
    const bare = await post(`/v1/tokens/${r.body.id}/transfer`, { fromUserId: a!.id, toUserId: b!.id, amount: '1' });
    expect([bare.status, bare.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    // A frozen sender cannot instruct a transfer (a forced transfer, being coercive, ignores that).
    expect((await post(`/v1/tokens/${r.body.id}/freeze`, { userId: a!.id })).body.status).toBe('confirmed');
    expect(
      (await post(`/v1/tokens/${r.body.id}/transfer`, { fromUserId: a!.id, toUserId: b!.id, amount: '1', instruction })).body.code,
    ).toBe('ADDRESS_FROZEN');
  }, 60_000);

  it('pause: 409 TOKEN_PAUSED for operations until unpause; admins may pause', async () => {
    const [a] = investors;
    expect((await post(`/v1/tokens/${tokenId}/pause`, {}, WAIT, admin)).body.status).toBe('confirmed');
    expect((await http(t.url, 'GET', `/v1/tokens/${tokenId}`, { token: op.token })).body.paused).toBe(true);
    const refused = await post(`/v1/tokens/${tokenId}/issue`, { userId: a!.id, amount: '1' });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('TOKEN_PAUSED');
    expect((await post(`/v1/tokens/${tokenId}/unpause`, {})).body.status).toBe('confirmed');
    expect((await post(`/v1/tokens/${tokenId}/issue`, { userId: a!.id, amount: '1' })).body.status).toBe('confirmed');
  });

  it('validates amounts and users, and hides other operators’ tokens and transactions', async () => {
    const [a] = investors;
    for (const amount of ['0', '-1', '1.5', '01', 'abc', (1n << 256n).toString(), 5]) {
      const r = await post(`/v1/tokens/${tokenId}/issue`, { userId: a!.id, amount });
      expect(r.status, String(amount)).toBe(400);
    }
    const noWallet = await http(t.url, 'POST', '/v1/users', { token: op.token, body: { name: 'no wallet', email: 'n@example.jp' } });
    expect((await post(`/v1/tokens/${tokenId}/issue`, { userId: noWallet.body.id, amount: '1' })).body.code).toBe('WALLET_NOT_ISSUED');
    const other = await createOperator(t.url, admin);
    expect((await http(t.url, 'GET', `/v1/tokens/${tokenId}`, { token: other.token })).status).toBe(404);
    expect((await post(`/v1/tokens/${tokenId}/issue`, { userId: a!.id, amount: '1' }, WAIT, other.token)).status).toBe(404);
    const list = await http(t.url, 'GET', '/v1/transactions?limit=100', { token: other.token });
    expect(list.body.items).toEqual([]);
    const mine = await http(t.url, 'GET', `/v1/transactions?tokenId=${tokenId}&kind=issue`, { token: op.token });
    expect(mine.body.items.length).toBeGreaterThan(0);
    expect((await http(t.url, 'GET', `/v1/transactions/${mine.body.items[0].id}`, { token: other.token })).status).toBe(404);
    const cancel = await http(t.url, 'POST', `/v1/transactions/${mine.body.items[0].id}/cancel`, { token: op.token });
    expect(cancel.status).toBe(409);
    expect(cancel.body.code).toBe('NOT_CANCELLABLE');
  });

  it('signs issuer tokens with the issuer key for every granted operator; a revoked grant stops at once', async () => {
    const op2 = await createOperator(t.url, admin);
    const issuer = await http(t.url, 'POST', '/v1/issuers', { token: admin, body: { name: '株式会社みなと' } });
    expect(issuer.status).toBe(201);
    for (const o of [op, op2])
      expect(
        (await http(t.url, 'POST', `/v1/issuers/${issuer.body.id}/operators`, { token: admin, body: { operatorId: o.id } })).status,
      ).toBe(200);
    const seen = await http(t.url, 'GET', `/v1/issuers/${issuer.body.id}`, { token: op2.token });
    expect(seen.body.operatorIds).toEqual([op2.id]);
    const notGranted = await createOperator(t.url, admin);
    expect(
      (await post('/v1/tokens', { name: 'X', symbol: 'X', decimals: 0, issuerId: issuer.body.id }, WAIT, notGranted.token)).body.code,
    ).toBe('ISSUER_NOT_GRANTED');
    const tk = await post('/v1/tokens', { name: 'Minato Share', symbol: 'MNT', decimals: 0, issuerId: issuer.body.id });
    expect(tk.body).toMatchObject({ status: 'active', signer: { kind: 'issuer', id: issuer.body.id, address: issuer.body.signerAddress } });
    // op2 is granted the issuer: it sees and operates the token, signed with the issuer key.
    const u2 = await http(t.url, 'POST', '/v1/users', { token: op2.token, body: { name: '二の投資家', email: 'u2@example.jp' } });
    const w = await fetch(`${t.url}/v1/users/${u2.body.id}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const issued = await post(`/v1/tokens/${tk.body.id}/issue`, { userId: u2.body.id, amount: '10' }, WAIT, op2.token);
    expect(issued.body).toMatchObject({ status: 'confirmed', from: issuer.body.signerAddress });
    expect(
      await chain.readContract({
        address: tk.body.address,
        abi: securityTokenAbi,
        functionName: 'balanceOf',
        args: [w.headers.get('x-wallet-address') as Address],
      }),
    ).toBe(10n);
    // op2 may not pause a token another operator created.
    expect((await post(`/v1/tokens/${tk.body.id}/pause`, {}, WAIT, op2.token)).status).toBe(403);
    // Revoke: op2 loses the token at once.
    expect((await http(t.url, 'DELETE', `/v1/issuers/${issuer.body.id}/operators/${op2.id}`, { token: admin })).status).toBe(200);
    expect((await http(t.url, 'GET', `/v1/tokens/${tk.body.id}`, { token: op2.token })).status).toBe(404);
  }, 90_000);

  it('deposit and withdraw move custody with a per-investor ledger reconciled with the chain', async () => {
    const [, b] = investors;
    const dep = await post(`/v1/tokens/${tokenId}/deposit`, { userId: b!.id, amount: '100' });
    expect(dep.body.status).toBe('confirmed');
    // The firm's custody address has no key: the last 20 bytes of keccak256("kagi:custody:v1:" + firm id).
    const custodyAddress = getAddress(`0x${keccak256(stringToBytes(`kagi:custody:v1:${op.id}`)).slice(-40)}`);
    expect(await read<bigint>('balanceOf', [custodyAddress])).toBe(100n);
    expect(await read<bigint>('balanceOf', [op.signerAddress])).toBe(0n);
    const custody = await http(t.url, 'GET', `/v1/tokens/${tokenId}/custody`, { token: op.token });
    expect(custody.body).toEqual({ custodyAddress, onChainBalance: '100', items: [{ userId: b!.id, amount: '100' }] });
    expect((await http(t.url, 'GET', `/v1/tokens/${tokenId}/balances/${b!.id}`, { token: op.token })).body).toMatchObject({
      balance: '205',
      custodyBalance: '100',
    });
    const beyond = await post(`/v1/tokens/${tokenId}/withdraw`, { userId: b!.id, amount: '101' });
    expect(beyond.status).toBe(409);
    expect(beyond.body.code).toBe('INSUFFICIENT_BALANCE');
    const [a] = investors;
    expect((await post(`/v1/tokens/${tokenId}/withdraw`, { userId: a!.id, amount: '1' })).body.code).toBe('INSUFFICIENT_BALANCE'); // a has nothing in custody
    expect((await post(`/v1/tokens/${tokenId}/withdraw`, { userId: b!.id, amount: '40' })).body.status).toBe('confirmed');
    expect(await read<bigint>('balanceOf', [b!.address])).toBe(245n);
    const after = await http(t.url, 'GET', `/v1/tokens/${tokenId}/custody`, { token: op.token });
    expect(after.body).toMatchObject({ onChainBalance: '60', items: [{ userId: b!.id, amount: '60' }] });
    const ready = await http(t.url, 'GET', '/health/ready');
    expect(ready.body.info.custody).toMatchObject({ status: 'up', mismatches: 0 });
    const metrics = await http(t.url, 'GET', '/metrics');
    expect(metrics.text).toContain(`kagi_custody_reconciliation_difference{token="${tokenId}"} 0`);
  }, 60_000);

  it('lists the holder register at a block, as JSON and CSV', async () => {
    const [a, b] = investors;
    const now = await http(t.url, 'GET', `/v1/tokens/${tokenId}/holders`, { token: op.token });
    const byUser = Object.fromEntries(now.body.items.map((h: any) => [h.userId, h]));
    expect(byUser[a!.id]).toMatchObject({ address: a!.address, balance: String(await read<bigint>('balanceOf', [a!.address])) });
    expect(byUser[b!.id]).toMatchObject({ custodyBalance: '60' });
    // At the deployment block nobody held anything yet.
    const tk = await http(t.url, 'GET', `/v1/tokens/${tokenId}`, { token: op.token });
    const deploy = await http(t.url, 'GET', `/v1/transactions/${tk.body.deployTransactionId}`, { token: op.token });
    const early = await http(t.url, 'GET', `/v1/tokens/${tokenId}/holders?blockNumber=${deploy.body.blockNumber}`, { token: op.token });
    expect(early.body).toEqual({ blockNumber: String(deploy.body.blockNumber), items: [] });
    expect((await http(t.url, 'GET', `/v1/tokens/${tokenId}/holders?blockNumber=-1`, { token: op.token })).status).toBe(400);
    const csv = await http(t.url, 'GET', `/v1/tokens/${tokenId}/holders`, { token: op.token, headers: { accept: 'text/csv' } });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(csv.text.replace(/^\uFEFF/, '').split('\n')[0]).toBe(
      'userId,externalRef,name,nameKana,postalAddress,address,balance,custodyBalance,blockNumber',
    );
    expect(csv.text).toContain(`${a!.id},`);
    expect(csv.text).toContain(`${a!.address},`);
  });

  it('a reissued wallet is frozen on chain and recover moves its balance to the new wallet', async () => {
    const [a] = investors;
    const before = await read<bigint>('balanceOf', [a!.address]);
    const res = await fetch(`${t.url}/v1/users/${a!.id}/wallet?reissue=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'lost' }),
    });
    expect(res.status).toBe(201);
    const fresh = res.headers.get('x-wallet-address') as Address;
    await expect.poll(() => read<boolean>('isFrozen', [a!.address]), { timeout: 30_000 }).toBe(true);
    const rec = await post(`/v1/tokens/${tokenId}/recover`, { userId: a!.id });
    expect(rec.body).toMatchObject({ kind: 'recover', status: 'confirmed' });
    expect(await read<bigint>('balanceOf', [a!.address])).toBe(0n);
    expect(await read<bigint>('balanceOf', [fresh])).toBe(before);
    const nothing = await post(`/v1/tokens/${tokenId}/recover`, { userId: a!.id });
    expect(nothing.status).toBe(409);
    expect(nothing.body.code).toBe('NOTHING_TO_RECOVER');
  }, 60_000);

  it('shows signers to admins with queue, nonce and gas', async () => {
    const r = await http(t.url, 'GET', '/v1/signers', { token: admin });
    const me = r.body.items.find((s: any) => s.address === op.signerAddress);
    expect(me).toMatchObject({ kind: 'operator', ownerId: op.id, queued: 0, oldestQueuedAt: null });
    expect(me.nextNonce).toBe(await chain.getTransactionCount({ address: op.signerAddress }));
    expect(BigInt(me.gasBalance)).toBeGreaterThan(0n);
    expect((await http(t.url, 'GET', '/v1/signers', { token: op.token })).status).toBe(403);
  });
});
