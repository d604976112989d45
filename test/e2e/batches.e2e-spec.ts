/**
 * Batches end to end: JSON and CSV (UTF-8 and CP932) in, lots of ≤ 100 rows through the v2 batch
 * functions, every effect checked with independent viem reads of balanceOf / isFrozen.
 */
import iconv from 'iconv-lite';
import { createPublicClient, http as viemHttp, type Address, type PublicClient } from 'viem';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { securityTokenAbi } from '../../src/chain/contracts/security-token.abi';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, uniq, type OperatorFixture } from '../support/api';

interface Investor {
  id: string;
  ref: string;
  address: Address;
}

describe('batches', () => {
  let t: TestApp;
  let admin: string;
  let op: OperatorFixture;
  let chain: PublicClient;
  let tokenId: string;
  let token: Address;
  const investors: Investor[] = [];

  const balanceOf = (a: Address) => chain.readContract({ address: token, abi: securityTokenAbi, functionName: 'balanceOf', args: [a] });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    http(t.url, 'POST', path, { token: op.token, body, headers });
  const postCsv = (query: string, bytes: Buffer, contentType = 'text/csv', headers: Record<string, string> = {}) =>
    fetch(`${t.url}/v1/tokens/${tokenId}/batches?${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${op.token}`, 'content-type': contentType, ...headers },
      body: bytes,
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any, headers: r.headers }));
  const txCount = async () => {
    let n = 0;
    let cursor: string | null = null;
    do {
      const r = await http(t.url, 'GET', `/v1/transactions?tokenId=${tokenId}&limit=100${cursor ? `&cursor=${cursor}` : ''}`, {
        token: op.token,
      });
      n += r.body.items.length;
      cursor = r.body.nextCursor;
    } while (cursor);
    return n;
  };

  async function settled(batchId: string, timeoutMs = 90_000): Promise<any> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await http(t.url, 'GET', `/v1/batches/${batchId}`, { token: op.token });
      expect(r.status, r.text).toBe(200);
      if (r.body.status !== 'running') return r.body;
      if (Date.now() > end) throw new Error(`batch ${batchId} still running: ${r.text}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  async function investor(i: number): Promise<Investor> {
    const ref = uniq(`C${i}`);
    const u = await http(t.url, 'POST', '/v1/users', {
      token: op.token,
      body: { name: `投資家${i}`, email: 'i@example.jp', externalRef: ref },
    });
    expect(u.status, u.text).toBe(201);
    const w = await fetch(`${t.url}/v1/users/${u.body.id}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(w.status).toBe(201);
    await w.arrayBuffer();
    return { id: u.body.id as string, ref, address: w.headers.get('x-wallet-address') as Address };
  }

  beforeAll(async () => {
    t = await createTestApp();
    admin = await adminToken(t.url);
    op = await createOperator(t.url, admin);
    chain = createPublicClient({ transport: viemHttp(inject('rpcUrl')), pollingInterval: 50 });
    for (let i = 0; i < 40; i += 8) investors.push(...(await Promise.all(Array.from({ length: 8 }, (_, k) => investor(i + k)))));
    const r = await post('/v1/tokens', { name: 'Bulk Bond', symbol: 'BLK', decimals: 0 }, { prefer: 'wait=30' });
    expect(r.status, r.text).toBe(200);
    tokenId = r.body.id;
    token = r.body.address;
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  it('issues a 1,000-row CSV in 10 lots of 100 through batchMint; every balance is the sum of its rows', async () => {
    const expected = new Map<Address, bigint>();
    const lines = ['userId,externalRef,amount'];
    for (let i = 0; i < 1000; i++) {
      const inv = investors[(i * 7) % investors.length]!;
      const amount = BigInt(1 + ((i * 37) % 500));
      expected.set(inv.address, (expected.get(inv.address) ?? 0n) + amount);
      // Half the rows name the user by id, half by the firm's customer number.
      lines.push(i % 2 ? `${inv.id},,${amount}` : `,${inv.ref},${amount}`);
    }
    const r = await postCsv('kind=issue', Buffer.from(lines.join('\r\n') + '\r\n'));
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.headers.get('location')).toBe(`/v1/batches/${r.body.id}`);
    expect(r.body).toMatchObject({ kind: 'issue', status: 'running', atomic: true, total: 1000 });
    expect(r.body.counts).toEqual({ valid: 1000, invalid: 0, queued: 1000, confirmed: 0, failed: 0 });
    const lots = await http(t.url, 'GET', `/v1/transactions?batchId=${r.body.id}&limit=100`, { token: op.token });
    expect(lots.body.items).toHaveLength(10);
    for (const lot of lots.body.items) expect(lot).toMatchObject({ kind: 'batch-issue', batchId: r.body.id, tokenId });
    const done = await settled(r.body.id);
    expect(done.status).toBe('completed');
    expect(done.counts).toEqual({ valid: 1000, invalid: 0, queued: 0, confirmed: 1000, failed: 0 });
    for (const [a, want] of expected) expect(await balanceOf(a)).toBe(want);
    const confirmedLots = await http(t.url, 'GET', `/v1/transactions?batchId=${r.body.id}&status=confirmed&limit=100`, { token: op.token });
    expect(confirmedLots.body.items).toHaveLength(10);
    // Each lot is one transaction on chain with 100 Transfer events.
    const receipt = await chain.getTransactionReceipt({ hash: confirmedLots.body.items[0].txHash });
    expect(receipt.logs.length).toBeGreaterThanOrEqual(100);
  }, 180_000);

  it('refuses an atomic batch with 3 bad rows with 422 listing exactly those rows, and queues nothing', async () => {
    const before = await txCount();
    const [a, b, c] = investors;
    const items = [
      { userId: a!.id, amount: '5' },
      { userId: '00000000-0000-4000-8000-000000000000', amount: '5' }, // unknown user
      { externalRef: b!.ref, amount: '5' },
      { userId: b!.id, amount: '1,000' }, // thousands separator
      { userId: c!.id, amount: '5' },
      { userId: c!.id, amount: '０５' }, // full-width digits
      { userId: a!.id, amount: '7' },
    ];
    const r = await post(`/v1/tokens/${tokenId}/batches`, { kind: 'issue', items });
    expect(r.status, r.text).toBe(422);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.body.code).toBe('BATCH_INVALID');
    expect(r.body.rows.map((x: any) => [x.row, x.field, x.code])).toEqual([
      [2, 'userId', 'NOT_FOUND'],
      [4, 'amount', 'VALIDATION_FAILED'],
      [6, 'amount', 'VALIDATION_FAILED'],
    ]);
    expect(await txCount()).toBe(before);
  });

  it('runs the same rows non-atomically: valid rows confirmed, the bad ones invalid', async () => {
    const [a, b, c] = investors;
    const before = await Promise.all([a, b, c].map((x) => balanceOf(x!.address)));
    const items = [
      { userId: a!.id, amount: '5' },
      { userId: '00000000-0000-4000-8000-000000000000', amount: '5' },
      { externalRef: b!.ref, amount: '6' },
      { userId: b!.id, amount: '1,000' },
      { userId: c!.id, amount: '8' },
      { userId: c!.id, amount: '０５' },
      { userId: a!.id, amount: '7' },
    ];
    const r = await post(`/v1/tokens/${tokenId}/batches`, { kind: 'issue', items, atomic: false });
    expect(r.status, r.text).toBe(202);
    expect(r.body.counts).toMatchObject({ valid: 4, invalid: 3, queued: 4 });
    const done = await settled(r.body.id);
    expect(done).toMatchObject({ status: 'completed', counts: { valid: 4, invalid: 3, queued: 0, confirmed: 4, failed: 0 } });
    expect(await balanceOf(a!.address)).toBe(before[0]! + 12n);
    expect(await balanceOf(b!.address)).toBe(before[1]! + 6n);
    expect(await balanceOf(c!.address)).toBe(before[2]! + 8n);
    const rows = await http(t.url, 'GET', `/v1/batches/${r.body.id}/items?limit=100`, { token: op.token });
    expect(rows.body.items.map((x: any) => [x.row, x.status])).toEqual([
      [1, 'confirmed'],
      [2, 'invalid'],
      [3, 'confirmed'],
      [4, 'invalid'],
      [5, 'confirmed'],
      [6, 'invalid'],
      [7, 'confirmed'],
    ]);
    expect(rows.body.items[1].error).toMatchObject({ code: 'NOT_FOUND', field: 'userId' });
    // The CSV report: every row, UTF-8 with BOM.
    const csv = await fetch(`${t.url}/v1/batches/${r.body.id}/items`, {
      headers: { authorization: `Bearer ${op.token}`, accept: 'text/csv' },
    });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const text = Buffer.from(await csv.arrayBuffer());
    expect([...text.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = text.toString('utf8').slice(1).trim().split(/\r?\n/);
    expect(lines[0]).toBe(
      'row,userId,toUserId,amount,legalBasisCode,legalBasisReference,legalBasisNote,status,transactionId,errorCode,errorField,errorMessage',
    );
    expect(lines).toHaveLength(8);
    expect(lines[2]).toMatch(/^2,,,5,,,,invalid,,NOT_FOUND,userId,/);
  }, 120_000);

  it('checks debits cumulatively: two redeem rows of one user that together exceed its balance are refused', async () => {
    const a = investors[5]!;
    const bal = await balanceOf(a.address);
    expect(bal).toBeGreaterThan(2n);
    const half = bal / 2n + 1n;
    const before = await txCount();
    const r = await post(`/v1/tokens/${tokenId}/batches`, {
      kind: 'redeem',
      items: [
        { userId: a.id, amount: half.toString() },
        { userId: a.id, amount: half.toString() },
      ],
    });
    expect(r.status, r.text).toBe(422);
    expect(r.body.rows).toEqual([expect.objectContaining({ row: 2, field: 'amount', code: 'INSUFFICIENT_BALANCE' })]);
    expect(await txCount()).toBe(before);
    // Each row alone fits: the dry run of one row is valid, and stores nothing.
    const dry = await post(`/v1/tokens/${tokenId}/batches`, {
      kind: 'redeem',
      items: [{ userId: a.id, amount: half.toString() }],
      dryRun: true,
    });
    expect(dry.status, dry.text).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, counts: { valid: 1, invalid: 0, queued: 0 } });
    expect((await http(t.url, 'GET', `/v1/batches/${dry.body.id}`, { token: op.token })).status).toBe(404);
    expect(await txCount()).toBe(before);
    // A redeem batch that fits burns exactly its rows.
    const ok = await post(`/v1/tokens/${tokenId}/batches`, {
      kind: 'redeem',
      items: [
        { userId: a.id, amount: '1' },
        { userId: a.id, amount: '1' },
      ],
    });
    expect(ok.status, ok.text).toBe(202);
    expect((await settled(ok.body.id)).status).toBe('completed');
    expect(await balanceOf(a.address)).toBe(bal - 2n);
  }, 120_000);

  it('reads a CP932 CSV (as Excel writes it) with 髙橋 and ㈱ in its notes, with or without a charset', async () => {
    const [a, b, c] = [investors[10]!, investors[11]!, investors[12]!];
    const before = await Promise.all([a, b, c].map((x) => balanceOf(x.address)));
    const csv =
      'userId,toUserId,amount,legalBasisCode,legalBasisReference,legalBasisNote\r\n' +
      `${a.id},${c.id},1,court-order,東京地裁 令和8年(ヲ)第12号,髙橋 一郎 差押\r\n` +
      `${b.id},${c.id},2,other,,㈱髙橋商店 ①の件\r\n`;
    const bytes = iconv.encode(csv, 'cp932');
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes)).toThrow();
    const dry = await postCsv('kind=forced-transfer&dryRun=true', bytes);
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body.counts).toMatchObject({ valid: 2, invalid: 0 });
    const r = await postCsv('kind=forced-transfer', bytes, 'text/csv; charset=Shift_JIS');
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect((await settled(r.body.id)).status).toBe('completed');
    expect(await balanceOf(a.address)).toBe(before[0]! - 1n);
    expect(await balanceOf(b.address)).toBe(before[1]! - 2n);
    expect(await balanceOf(c.address)).toBe(before[2]! + 3n);
    const items = await http(t.url, 'GET', `/v1/batches/${r.body.id}/items`, { token: op.token });
    expect(items.body.items[0].legalBasis).toEqual({
      code: 'court-order',
      reference: '東京地裁 令和8年(ヲ)第12号',
      note: '髙橋 一郎 差押',
    });
    expect(items.body.items[1].legalBasis).toEqual({ code: 'other', note: '㈱髙橋商店 ①の件' });
    const lots = await http(t.url, 'GET', `/v1/transactions?batchId=${r.body.id}`, { token: op.token });
    expect(lots.body.items.map((x: any) => x.kind)).toEqual(['batch-forced-transfer']);
  }, 120_000);

  it('freezes in a batch; answers 400 naming the line for an unparsable CSV, and replays an Idempotency-Key', async () => {
    const [a, b] = [investors[20]!, investors[21]!];
    const key = uniq('idem');
    const body = { kind: 'freeze', items: [{ userId: a.id }, { externalRef: b.ref }], legalBasis: { code: 'regulatory' } };
    const r1 = await post(`/v1/tokens/${tokenId}/batches`, body, { 'idempotency-key': key });
    expect(r1.status, r1.text).toBe(202);
    const r2 = await post(`/v1/tokens/${tokenId}/batches`, body, { 'idempotency-key': key });
    expect(r2.status).toBe(202);
    expect(r2.body.id).toBe(r1.body.id);
    expect((await settled(r1.body.id)).status).toBe('completed');
    for (const x of [a, b])
      expect(await chain.readContract({ address: token, abi: securityTokenAbi, functionName: 'isFrozen', args: [x.address] })).toBe(true);
    // Issuing to a frozen wallet is a row problem (ADDRESS_FROZEN), not a failed lot.
    const frozenIssue = await post(`/v1/tokens/${tokenId}/batches`, { kind: 'issue', items: [{ userId: a.id, amount: '1' }] });
    expect(frozenIssue.status).toBe(422);
    expect(frozenIssue.body.rows[0]).toMatchObject({ row: 1, code: 'ADDRESS_FROZEN' });
    const bad = await postCsv('kind=issue', Buffer.from(`userId,amount\n${a.id},1\n"${b.id},2\n`));
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    expect(bad.body.detail).toMatch(/line \d+/);
    const unknownColumn = await postCsv('kind=issue', Buffer.from(`userId,amount,colour\n${a.id},1,red\n`));
    expect(unknownColumn.status).toBe(400);
    const tooMany = await postCsv('kind=issue', Buffer.from(`userId,amount\n${`${a.id},1\n`.repeat(10_001)}`));
    expect(tooMany.status).toBe(400);
  }, 120_000);
});
