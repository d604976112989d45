/**
 * kagi on a database from before contract v2: a firm whose custody sits at its signing
 * address, and a token deployed from the version 1 artifact. After a restart the custody moves
 * once to the firm's keyless address (a `custody-migration` transaction), the token shows
 * contractVersion 1 and keeps working; another restart moves nothing. Chain effects are read
 * with independent viem calls.
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { getAddress, type Address } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityTokenV1Abi } from '../../src/chain/contracts/security-token-v1.abi';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, type OperatorFixture } from '../support/api';
import { freshDatabase } from '../support/db';
import { deployV1, pub } from '../support/security-token';

const balanceOf = (token: Address, who: Address) =>
  pub().readContract({ address: token, abi: securityTokenV1Abi, functionName: 'balanceOf', args: [who] });

describe('tokens and custody from before contract v2', () => {
  let databaseUrl: string;
  let t: TestApp | undefined;
  let admin: string;
  let op: OperatorFixture;
  let userId: string;
  let wallet: Address;
  let tokenId: string;
  let token: Address;
  let keyless: Address;

  const sql = async (q: string, params: unknown[] = []) => {
    const c = new Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      return (await c.query(q, params)).rows;
    } finally {
      await c.end();
    }
  };
  const restart = async () => {
    await t?.close();
    t = await createTestApp({ env: { DATABASE_URL: databaseUrl } });
    admin = await adminToken(t.url);
    op.token = (await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: op.loginId, password: op.password } })).body.accessToken;
  };
  const migrations = async () =>
    (await http(t!.url, 'GET', `/v1/transactions?tokenId=${tokenId}&kind=custody-migration`, { token: admin })).body.items;

  beforeAll(async () => {
    databaseUrl = await freshDatabase('v1tokens');
    t = await createTestApp({ env: { DATABASE_URL: databaseUrl } });
    admin = await adminToken(t.url);
    op = await createOperator(t.url, admin);
    keyless = getAddress((await http(t.url, 'GET', `/v1/operators/${op.id}`, { token: admin })).body.custodyAddress);
    const u = await http(t.url, 'POST', '/v1/users', { token: op.token, body: { name: '旧契約', email: 'v1@example.jp' } });
    userId = u.body.id;
    const w = await fetch(`${t.url}/v1/users/${userId}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    wallet = getAddress(w.headers.get('x-wallet-address')!);
    // The state a pre-v2 kagi left: a v1 token whose agent is the firm's signing key, and custody at that key's address.
    token = await deployV1({ agent: getAddress(op.signerAddress), name: 'Legacy Bond', symbol: 'LGB' });
    tokenId = randomUUID();
    await sql(
      `INSERT INTO tokens (id, operator_id, name, symbol, decimals, signer_kind, signer_id, signer_address, address, status, contract_version, holder_transfers, deploy_transaction_id)
       VALUES ($1, $2, 'Legacy Bond', 'LGB', 0, 'operator', $2, $3, $4, 'active', 1, true, $5)`,
      [tokenId, op.id, getAddress(op.signerAddress), token, randomUUID()],
    );
    await sql('UPDATE operators SET custody_address = $2 WHERE id = $1', [op.id, getAddress(op.signerAddress)]);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('a v1 token works in the firm’s hands, custody going to the signing address as before', async () => {
    const post = (kind: string, body: object) =>
      http(t!.url, 'POST', `/v1/tokens/${tokenId}/${kind}`, { token: op.token, body, headers: { prefer: 'wait=30' } });
    expect((await post('issue', { userId, amount: '100' })).body.status).toBe('confirmed');
    const dep = await post('deposit', { userId, amount: '40' });
    expect(dep.body.status, JSON.stringify(dep.body)).toBe('confirmed');
    expect(await balanceOf(token, getAddress(op.signerAddress))).toBe(40n);
    expect(await balanceOf(token, wallet)).toBe(60n);
    const shown = await http(t!.url, 'GET', `/v1/tokens/${tokenId}`, { token: op.token });
    expect(shown.body).toMatchObject({ contractVersion: 1, address: token, status: 'active' });
  }, 90_000);

  it('after a restart the custody moves once to the keyless address; a second restart moves nothing', async () => {
    await restart();
    await expect.poll(async () => (await migrations()).map((x: any) => x.status), { timeout: 60_000 }).toEqual(['confirmed']);
    expect(await balanceOf(token, keyless)).toBe(40n);
    expect(await balanceOf(token, getAddress(op.signerAddress))).toBe(0n);
    expect((await http(t!.url, 'GET', `/v1/operators/${op.id}`, { token: admin })).body.custodyAddress).toBe(keyless);
    const custody = await http(t!.url, 'GET', `/v1/tokens/${tokenId}/custody`, { token: op.token });
    expect(custody.body).toMatchObject({ custodyAddress: keyless, onChainBalance: '40', items: [{ userId, amount: '40' }] });

    await restart();
    await new Promise((r) => setTimeout(r, 3000));
    expect(await migrations()).toHaveLength(1);
    expect(await balanceOf(token, keyless)).toBe(40n);
  }, 150_000);

  it('the v1 token keeps working from the keyless custody: withdraw and issue', async () => {
    const post = (kind: string, body: object) =>
      http(t!.url, 'POST', `/v1/tokens/${tokenId}/${kind}`, { token: op.token, body, headers: { prefer: 'wait=30' } });
    const w = await post('withdraw', { userId, amount: '15' });
    expect(w.body.status, JSON.stringify(w.body)).toBe('confirmed');
    expect((await post('issue', { userId, amount: '5' })).body.status).toBe('confirmed');
    expect(await balanceOf(token, keyless)).toBe(25n);
    expect(await balanceOf(token, wallet)).toBe(80n);
  }, 90_000);
});
