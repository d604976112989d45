/**
 * Distributions end to end on a token with decimals 2: entitlements at a record block, with
 * custody units and with transfers after the record block, against an independent computation
 * from balanceOf at that block (viem readContract with blockNumber) in bigint; and the holder
 * register's fields.
 */
import { createPublicClient, http as viemHttp, type Address, type PublicClient } from 'viem';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, uniq, type OperatorFixture } from '../support/api';

const WAIT = { prefer: 'wait=30' };

describe('distributions', () => {
  let t: TestApp;
  let admin: string;
  let op: OperatorFixture;
  let chain: PublicClient;
  let tokenId: string;
  let token: Address;
  let custody: Address;
  const inv: Record<'a' | 'b' | 'c', { id: string; address: Address; ref: string }> = {} as never;

  const post = (path: string, body: unknown, headers: Record<string, string> = WAIT) =>
    http(t.url, 'POST', path, { token: op.token, body, headers });
  const ok = async (path: string, body: unknown) => {
    const r = await post(path, body);
    expect(r.status, r.text).toBe(200);
    expect(r.body.status, r.text).toBe('confirmed');
  };
  const balanceAt = (a: Address, blockNumber: bigint) =>
    chain.readContract({ address: token, abi: securityTokenAbi, functionName: 'balanceOf', args: [a], blockNumber });

  async function investor(body: Record<string, unknown>) {
    const ref = uniq('K');
    const u = await http(t.url, 'POST', '/v1/users', { token: op.token, body: { email: 'i@example.jp', externalRef: ref, ...body } });
    expect(u.status, u.text).toBe(201);
    const w = await fetch(`${t.url}/v1/users/${u.body.id}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    await w.arrayBuffer();
    return { id: u.body.id as string, address: w.headers.get('x-wallet-address') as Address, ref };
  }

  beforeAll(async () => {
    t = await createTestApp();
    admin = await adminToken(t.url);
    op = await createOperator(t.url, admin);
    chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')), pollingInterval: 50 });
    inv.a = await investor({ name: '山田花子', nameKana: 'ヤマダハナコ', postalAddress: '〒100-0005 東京都千代田区丸の内1-1-1' });
    inv.b = await investor({ name: '㈱髙橋商店', nameKana: 'カブシキガイシャタカハシショウテン', taxClass: 'corporate' });
    inv.c = await investor({ name: '佐藤一郎' });
    const r = await post('/v1/tokens', { name: 'Yen Bond', symbol: 'YB2', decimals: 2 });
    expect(r.status, r.text).toBe(200);
    tokenId = r.body.id;
    token = r.body.address;
    custody = (await http(t.url, 'GET', `/v1/tokens/${tokenId}/custody`, { token: op.token })).body.custodyAddress;
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('takes the register fields on users (create, read, correct)', async () => {
    const a = await http(t.url, 'GET', `/v1/users/${inv.a.id}`, { token: op.token });
    expect(a.body).toMatchObject({
      nameKana: 'ヤマダハナコ',
      postalAddress: '〒100-0005 東京都千代田区丸の内1-1-1',
      taxClass: 'individual',
    });
    const c = await http(t.url, 'PATCH', `/v1/users/${inv.c.id}`, {
      token: op.token,
      body: { postalAddress: '〒530-0001 大阪市北区梅田1-1' },
    });
    expect(c.status, c.text).toBe(200);
    expect(c.body).toMatchObject({ postalAddress: '〒530-0001 大阪市北区梅田1-1', nameKana: null, taxClass: 'individual' });
    const bad = await http(t.url, 'PATCH', `/v1/users/${inv.c.id}`, { token: op.token, body: { taxClass: 'trust' } });
    expect(bad.status).toBe(400);
  });

  it('computes entitlements at the record block: custody units to their owner, later transfers ignored, individual vs corporate', async () => {
    await ok(`/v1/tokens/${tokenId}/issue`, { userId: inv.a.id, amount: '123457' }); // 1,234.57 tokens
    await ok(`/v1/tokens/${tokenId}/issue`, { userId: inv.b.id, amount: '98765' });
    await ok(`/v1/tokens/${tokenId}/issue`, { userId: inv.c.id, amount: '50003' });
    await ok(`/v1/tokens/${tokenId}/deposit`, { userId: inv.c.id, amount: '20001' });
    const record = await chain.getBlockNumber();
    // After the record block: none of this may count.
    await ok(`/v1/tokens/${tokenId}/forced-transfer`, { fromUserId: inv.a.id, toUserId: inv.b.id, amount: '1000', reason: 'court order' });
    await ok(`/v1/tokens/${tokenId}/issue`, { userId: inv.a.id, amount: '777' });
    await ok(`/v1/tokens/${tokenId}/withdraw`, { userId: inv.c.id, amount: '5000' });

    const r = await post(`/v1/tokens/${tokenId}/distributions`, {
      kind: 'dividend',
      recordBlock: Number(record),
      amountPerToken: '12.3456',
      paymentDate: '2026-12-20',
    });
    expect(r.status, r.text).toBe(201);
    expect(r.body).toMatchObject({ kind: 'dividend', recordBlock: Number(record), amountPerToken: '12.3456', paymentDate: '2026-12-20' });

    // Independent: balanceOf at the record block, the custody address's units all the one depositor's.
    const units = {
      a: await balanceAt(inv.a.address, record),
      b: await balanceAt(inv.b.address, record),
      c: (await balanceAt(inv.c.address, record)) + (await balanceAt(custody, record)),
    };
    expect(units).toEqual({ a: 123457n, b: 98765n, c: 50003n });
    const expectFor = (n: bigint, individual: boolean) => {
      const gross = (n * 123456n) / (100n * 10000n);
      const incomeTax = (gross * 15315n) / 100000n;
      const residentTax = individual ? (gross * 5n) / 100n : 0n;
      return {
        units: String(n),
        gross: String(gross),
        incomeTax: String(incomeTax),
        residentTax: String(residentTax),
        withholding: String(incomeTax + residentTax),
        net: String(gross - incomeTax - residentTax),
      };
    };
    const e = await http(t.url, 'GET', `/v1/distributions/${r.body.id}/entitlements`, { token: op.token });
    expect(e.status).toBe(200);
    const by = Object.fromEntries(e.body.items.map((x: any) => [x.userId, x]));
    expect(e.body.items).toHaveLength(3);
    expect(by[inv.a.id]).toEqual({
      userId: inv.a.id,
      externalRef: inv.a.ref,
      name: '山田花子',
      taxClass: 'individual',
      address: inv.a.address,
      ...expectFor(units.a, true),
    });
    expect(by[inv.b.id]).toEqual({
      userId: inv.b.id,
      externalRef: inv.b.ref,
      name: '㈱髙橋商店',
      taxClass: 'corporate',
      address: inv.b.address,
      ...expectFor(units.b, false),
    });
    expect(by[inv.c.id]).toMatchObject(expectFor(units.c, true));
    // 1,234.57 × 12.3456 = 15,241.4… → 15,241 yen; 15.315 % → 2,334; 5 % → 762.
    expect(by[inv.a.id]).toMatchObject({ gross: '15241', incomeTax: '2334', residentTax: '762', net: '12145' });
    const sum = (k: string) => String(e.body.items.reduce((s: bigint, x: any) => s + BigInt(x[k]), 0n));
    expect(r.body.totals).toEqual({
      units: sum('units'),
      gross: sum('gross'),
      incomeTax: sum('incomeTax'),
      residentTax: sum('residentTax'),
      withholding: sum('withholding'),
      net: sum('net'),
      holders: 3,
    });
    const got = await http(t.url, 'GET', `/v1/distributions/${r.body.id}`, { token: op.token });
    expect(got.body).toEqual(r.body);

    const csv = await fetch(`${t.url}/v1/distributions/${r.body.id}/entitlements`, {
      headers: { authorization: `Bearer ${op.token}`, accept: 'text/csv' },
    });
    const bytes = Buffer.from(await csv.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.toString('utf8').slice(1).trim().split(/\r?\n/);
    expect(lines[0]).toBe('userId,externalRef,name,taxClass,address,units,gross,incomeTax,residentTax,withholding,net');
    expect(lines).toContain(
      `${inv.b.id},${inv.b.ref},㈱髙橋商店,corporate,${inv.b.address},${expectFor(units.b, false).units},${Object.values(expectFor(units.b, false)).slice(1).join(',')}`,
    );

    // Another firm sees nothing of it.
    const other = await createOperator(t.url, admin);
    expect((await http(t.url, 'GET', `/v1/distributions/${r.body.id}`, { token: other.token })).status).toBe(404);
  }, 120_000);

  it('refuses a record date that has not ended, a future record block, and both or neither', async () => {
    const today = new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10);
    const base = { kind: 'coupon', amountPerToken: '1', paymentDate: '2026-12-20' };
    for (const body of [
      { ...base, recordDate: today },
      { ...base, recordBlock: Number(await chain.getBlockNumber()) + 1000 },
      { ...base, recordBlock: 1, recordDate: '2026-01-01' },
      base,
      { ...base, recordBlock: 1, amountPerToken: '1.23456' },
      { ...base, recordBlock: 1, amountPerToken: '0' },
    ]) {
      const r = await post(`/v1/tokens/${tokenId}/distributions`, body, {});
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.code).toBe('VALIDATION_FAILED');
    }
  });

  it('lists the holder register with name, kana, postal address and externalRef (JSON and CSV with BOM)', async () => {
    const r = await http(t.url, 'GET', `/v1/tokens/${tokenId}/holders`, { token: op.token });
    const b = r.body.items.find((h: any) => h.userId === inv.b.id);
    expect(b).toMatchObject({
      externalRef: inv.b.ref,
      name: '㈱髙橋商店',
      nameKana: 'カブシキガイシャタカハシショウテン',
      postalAddress: null,
      address: inv.b.address,
    });
    expect(b.balance).toBe(
      String(await chain.readContract({ address: token, abi: securityTokenAbi, functionName: 'balanceOf', args: [inv.b.address] })),
    );
    const csv = await fetch(`${t.url}/v1/tokens/${tokenId}/holders`, {
      headers: { authorization: `Bearer ${op.token}`, accept: 'text/csv' },
    });
    const bytes = Buffer.from(await csv.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.toString('utf8').slice(1).trim().split(/\r?\n/);
    expect(lines[0]).toBe('userId,externalRef,name,nameKana,postalAddress,address,balance,custodyBalance,blockNumber');
    expect(lines.find((l) => l.startsWith(inv.a.id))).toContain(',山田花子,ヤマダハナコ,〒100-0005 東京都千代田区丸の内1-1-1,');
  });
});
