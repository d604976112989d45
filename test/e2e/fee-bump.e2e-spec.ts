/**
 * A transaction the node does not mine is replaced with a bumped fee and the same nonce; one
 * whose nonce another transaction took is signed again with a new nonce, and lands once.
 */
import { createPublicClient, http as viemHttp, type Address } from 'viem';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { freePort, startAnvil, type StartedProcess } from '../../dev/processes';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator } from '../support/api';

describe('stuck transactions', () => {
  let t: TestApp;
  // Its own Anvil: this test switches mining off and on, which must not touch the shared node.
  let anvil: StartedProcess;
  const chain = () => createPublicClient({ transport: viemHttp(anvil.url) });
  const rpc = (method: string, params: unknown[]) => chain().request({ method, params } as never);

  beforeAll(async () => {
    anvil = await startAnvil({ port: await freePort(), chainId: inject('chainId') });
    t = await createTestApp({ env: { CHAIN_RPC_URL: anvil.url, TX_STUCK_AFTER_SECONDS: '2', FEE_BUMP_PERCENT: '25' } });
  });
  afterAll(async () => {
    await t?.close();
    await anvil?.stop();
  });

  it('re-signs the same nonce with a higher fee, keeps every hash, and confirms whichever is mined', async () => {
    const admin = await adminToken(t.url);
    const op = await createOperator(t.url, admin);
    const u = await http(t.url, 'POST', '/v1/users', { token: op.token, body: { name: '滞留 テスト', email: 's@example.jp' } });
    const w = await fetch(`${t.url}/v1/users/${u.body.id}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const wallet = w.headers.get('x-wallet-address') as Address;
    const tk = await http(t.url, 'POST', '/v1/tokens', {
      token: op.token,
      body: { name: 'Stuck', symbol: 'STK', decimals: 0 },
      headers: { prefer: 'wait=30' },
    });
    expect(tk.body.status).toBe('active');

    await rpc('evm_setAutomine', [false]);
    await rpc('evm_setIntervalMining', [0]);
    const r = await http(t.url, 'POST', `/v1/tokens/${tk.body.id}/issue`, { token: op.token, body: { userId: u.body.id, amount: '7' } });
    expect(r.status).toBe(202);
    await expect
      .poll(async () => (await http(t.url, 'GET', `/v1/transactions/${r.body.id}`, { token: op.token })).body.replacedTxHashes.length, {
        timeout: 20_000,
        interval: 250,
      })
      .toBeGreaterThan(0);
    const stuck = (await http(t.url, 'GET', `/v1/transactions/${r.body.id}`, { token: op.token })).body;
    expect(stuck.status).toBe('submitted');
    expect(stuck.attempts).toBeGreaterThanOrEqual(2);
    const [first] = stuck.replacedTxHashes as `0x${string}`[];
    const a = await chain()
      .getTransaction({ hash: first! })
      .catch(() => undefined);
    const b = await chain().getTransaction({ hash: stuck.txHash });
    expect(b.nonce).toBe(stuck.nonce);
    if (a) expect(b.maxFeePerGas! > a.maxFeePerGas!).toBe(true);

    await rpc('evm_setAutomine', [true]);
    await rpc('evm_mine', []);
    await expect
      .poll(async () => (await http(t.url, 'GET', `/v1/transactions/${r.body.id}`, { token: op.token })).body.status, {
        timeout: 30_000,
        interval: 250,
      })
      .toBe('confirmed');
    const done = (await http(t.url, 'GET', `/v1/transactions/${r.body.id}`, { token: op.token })).body;
    const receipt = await chain().getTransactionReceipt({ hash: done.txHash });
    expect(receipt.status).toBe('success');
    expect(await chain().readContract({ address: tk.body.address, abi: securityTokenAbi, functionName: 'balanceOf', args: [wallet] })).toBe(
      7n,
    );
    // Exactly one of the hashes signed for that nonce was mined.
    const mined = await Promise.all(
      [done.txHash, ...done.replacedTxHashes].map((h: `0x${string}`) =>
        chain()
          .getTransactionReceipt({ hash: h })
          .then(
            () => 1,
            () => 0,
          ),
      ),
    );
    expect(mined.reduce((x: number, y: number) => x + y, 0)).toBe(1);
  }, 90_000);

  it('signs again with a new nonce when another transaction took its nonce, and applies it exactly once', async () => {
    const admin = await adminToken(t.url);
    const op = await createOperator(t.url, admin);
    const u = await http(t.url, 'POST', '/v1/users', { token: op.token, body: { name: '競合 テスト', email: 'n@example.jp' } });
    const w = await fetch(`${t.url}/v1/users/${u.body.id}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const wallet = w.headers.get('x-wallet-address') as Address;
    const tk = await http(t.url, 'POST', '/v1/tokens', {
      token: op.token,
      body: { name: 'Nonce', symbol: 'NNC', decimals: 0 },
      headers: { prefer: 'wait=30' },
    });
    expect(tk.body.status).toBe('active');
    const balance = () =>
      chain().readContract({ address: tk.body.address, abi: securityTokenAbi, functionName: 'balanceOf', args: [wallet] });

    // kagi's signed transaction waits in the pool; outside kagi, the node drops it and another
    // transaction of the same account takes its nonce (as a second system using the key would).
    await rpc('evm_setAutomine', [false]);
    await rpc('evm_setIntervalMining', [0]);
    const r = await http(t.url, 'POST', `/v1/tokens/${tk.body.id}/issue`, { token: op.token, body: { userId: u.body.id, amount: '11' } });
    expect(r.status).toBe(202);
    await expect
      .poll(async () => (await http(t.url, 'GET', `/v1/transactions/${r.body.id}`, { token: op.token })).body.status, {
        timeout: 10_000,
        interval: 100,
      })
      .toBe('submitted');
    const signed = (await http(t.url, 'GET', `/v1/transactions/${r.body.id}`, { token: op.token })).body;
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
    await rpc('anvil_dropTransaction', [signed.txHash]);
    await rpc('anvil_impersonateAccount', [op.signerAddress]);
    await rpc('eth_sendTransaction', [
      { from: op.signerAddress, to: op.signerAddress, value: '0x0', nonce: `0x${signed.nonce.toString(16)}` },
    ]);
    await rpc('anvil_stopImpersonatingAccount', [op.signerAddress]);
    await rpc('evm_mine', []);
    await rpc('evm_setAutomine', [true]);
    expect(await chain().getTransactionCount({ address: op.signerAddress })).toBe(signed.nonce + 1);

    await expect
      .poll(async () => (await http(t.url, 'GET', `/v1/transactions/${r.body.id}`, { token: op.token })).body.status, {
        timeout: 40_000,
        interval: 250,
      })
      .toBe('confirmed');
    const done = (await http(t.url, 'GET', `/v1/transactions/${r.body.id}`, { token: op.token })).body;
    expect(done.nonce).toBeGreaterThan(signed.nonce);
    expect(done.replacedTxHashes).toContain(signed.txHash);
    await expect(chain().getTransactionReceipt({ hash: signed.txHash })).rejects.toThrow();
    expect((await chain().getTransactionReceipt({ hash: done.txHash })).status).toBe('success');
    expect(await balance()).toBe(11n);
  }, 90_000);
});
