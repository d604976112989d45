/** Paper-wallet issuance over HTTP: the printed key derives the stored address; no key left behind. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { privateKeyToAddress } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, type OperatorFixture } from '../support/api';
import { pdfText, printedPrivateKey } from '../support/pdf';
import { findSecrets } from '../support/secrets';

async function issue(
  base: string,
  token: string,
  userId: string,
  opts: { reissue?: boolean; reason?: string; headers?: Record<string, string> } = {},
) {
  const res = await fetch(`${base}/v1/users/${userId}/wallet${opts.reissue ? '?reissue=true' : ''}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...opts.headers },
    body: JSON.stringify(opts.reason ? { reason: opts.reason } : {}),
  });
  const buf = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    headers: res.headers,
    buf,
    json: res.headers.get('content-type')?.includes('json') ? JSON.parse(buf.toString('utf8')) : undefined,
  };
}

function filesNewerThan(dir: string, since: number, depth = 2): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    try {
      const st = statSync(p);
      if (st.isDirectory() && depth > 0) out.push(...filesNewerThan(p, since, depth - 1));
      else if (st.isFile() && st.mtimeMs >= since && st.size < 5_000_000) out.push(p);
    } catch {
      /* vanished */
    }
  }
  return out;
}

describe('wallet issuance', () => {
  let t: TestApp;
  let admin: string;
  let op: OperatorFixture;
  const started = Date.now();
  const keys: Buffer[] = [];

  beforeAll(async () => {
    t = await createTestApp();
    admin = await adminToken(t.url);
    op = await createOperator(t.url, admin);
  });
  afterAll(async () => {
    await t?.close();
  });

  const newUser = async (name = '山田花子') =>
    (await http(t.url, 'POST', '/v1/users', { token: op.token, body: { name, email: 'hanako@example.jp' } })).body.id as string;

  it('answers a PDF whose printed key derives the X-Wallet-Address and the stored address', async () => {
    const id = await newUser();
    const r = await issue(t.url, admin, id);
    expect(r.status).toBe(201);
    expect(r.headers.get('content-type')).toBe('application/pdf');
    expect(r.headers.get('cache-control')).toBe('no-store');
    const address = r.headers.get('x-wallet-address');
    expect(r.buf.subarray(0, 5).toString()).toBe('%PDF-');
    const text = await pdfText(r.buf);
    expect(text).toContain('山田花子');
    expect(text).toContain(id);
    expect(text).toContain('テスト証券');
    const key = printedPrivateKey(text);
    keys.push(Buffer.from(key.slice(2), 'hex'));
    expect(privateKeyToAddress(key)).toBe(address);
    const user = await http(t.url, 'GET', `/v1/users/${id}`, { token: op.token });
    expect(user.body).toMatchObject({ walletAddress: address, walletStatus: 'issued' });
    const again = await issue(t.url, admin, id);
    expect(again.status).toBe(409);
    expect(again.json.code).toBe('WALLET_ALREADY_ISSUED');
  });

  it('lets exactly one of two concurrent issuances win', async () => {
    const id = await newUser('並行 太郎');
    const [a, b] = await Promise.all([issue(t.url, admin, id), issue(t.url, admin, id)]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    const winner = a.status === 201 ? a : b;
    keys.push(Buffer.from(printedPrivateKey(await pdfText(winner.buf)).slice(2), 'hex'));
    expect((await http(t.url, 'GET', `/v1/users/${id}`, { token: op.token })).body.walletAddress).toBe(
      winner.headers.get('x-wallet-address'),
    );
  });

  it('reissues with a reason: the old address is kept, the operator notified, the act audited', async () => {
    const id = await newUser('再発行 花子');
    const first = await issue(t.url, admin, id);
    const old = first.headers.get('x-wallet-address');
    keys.push(Buffer.from(printedPrivateKey(await pdfText(first.buf)).slice(2), 'hex'));
    const noReason = await issue(t.url, admin, id, { reissue: true });
    expect(noReason.status).toBe(400);
    const second = await issue(t.url, admin, id, { reissue: true, reason: 'paper wallet lost' });
    expect(second.status).toBe(201);
    keys.push(Buffer.from(printedPrivateKey(await pdfText(second.buf)).slice(2), 'hex'));
    const user = (await http(t.url, 'GET', `/v1/users/${id}`, { token: op.token })).body;
    expect(user.walletAddress).toBe(second.headers.get('x-wallet-address'));
    expect(user.previousWalletAddresses).toEqual([old]);
    const feed = await http(t.url, 'GET', '/v1/notifications', { token: op.token });
    expect(feed.body.items.some((n: any) => n.kind === 'wallet.reissued' && n.body.includes(old))).toBe(true);
    const audit = await http(t.url, 'GET', '/v1/audit-events?action=wallet.reissue', { token: admin });
    expect(audit.body.items.some((e: any) => e.subject.id === id && e.details.previousAddress === old && e.actor.type === 'admin')).toBe(
      true,
    );
  });

  it('refuses non-admins, unknown users, Idempotency-Key, and answers FEATURE_DISABLED when switched off', async () => {
    const id = await newUser();
    expect((await issue(t.url, op.token, id)).status).toBe(403);
    expect((await issue(t.url, admin, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await issue(t.url, admin, id, { headers: { 'idempotency-key': 'k' } })).status).toBe(400);
    const off = await createTestApp({ env: { WALLET_HTTP_ISSUANCE: 'false' } });
    try {
      const r = await issue(off.url, await adminToken(off.url), id);
      expect(r.status).toBe(503);
      expect(r.json.code).toBe('FEATURE_DISABLED');
    } finally {
      await off.close();
    }
  });

  it('records a file medium whose id and JST date are printed on the PDF; its chain of custody is listed with who and when', async () => {
    const id = await newUser('媒体 記録');
    const before = Date.now();
    const r = await issue(t.url, admin, id);
    expect(r.status).toBe(201);
    const text = await pdfText(r.buf);
    keys.push(Buffer.from(printedPrivateKey(text).slice(2), 'hex'));
    const address = r.headers.get('x-wallet-address');
    const list = await http(t.url, 'GET', `/v1/users/${id}/wallet-media`, { token: op.token });
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    const medium = list.body.items[0];
    expect(medium).toMatchObject({ address, kind: 'file', status: 'issued', events: [] });
    expect(text).toContain(medium.mediumId);
    // The sheet's date is JST: UTC+9, within the minute of the request.
    const printed = /(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) JST/.exec(text)?.[1];
    expect(printed).toBeDefined();
    const asUtc = Date.parse(`${printed!.replace(' ', 'T')}+09:00`);
    expect(Math.abs(asUtc - before)).toBeLessThan(60_000);

    const url = `/v1/users/${id}/wallet-media/${medium.mediumId}/events`;
    const stored = await http(t.url, 'POST', url, {
      token: admin,
      body: { kind: 'stored', location: '本店金庫 B-2', custodian: '佐藤一郎', witness: '鈴木花子', note: 'sealed envelope 0042' },
    });
    expect(stored.status).toBe(201);
    expect(stored.body).toMatchObject({ mediumId: medium.mediumId, kind: 'stored', custodian: '佐藤一郎', witness: '鈴木花子' });
    const handed = await http(t.url, 'POST', url, { token: admin, body: { kind: 'handed-over', custodian: '媒体 記録 (investor)' } });
    expect(handed.status).toBe(201);
    expect(handed.body).toMatchObject({ location: null, witness: null, note: null });

    // Who may do what; bad input is problem+json.
    expect((await http(t.url, 'POST', url, { token: op.token, body: { kind: 'moved', custodian: 'x' } })).status).toBe(403);
    const bad = await http(t.url, 'POST', url, { token: admin, body: { kind: 'lost', custodian: 'x' } });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    expect((await http(t.url, 'POST', url, { token: admin, body: { kind: 'moved', custodian: 'x', extra: 1 } })).body.code).toBe(
      'VALIDATION_FAILED',
    );
    expect((await http(t.url, 'POST', url, { token: admin, body: { kind: 'moved' } })).body.code).toBe('VALIDATION_FAILED');
    const otherUser = await newUser('別人');
    expect(
      (
        await http(t.url, 'POST', `/v1/users/${otherUser}/wallet-media/${medium.mediumId}/events`, {
          token: admin,
          body: { kind: 'moved', custodian: 'x' },
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await http(t.url, 'POST', `/v1/users/${id}/wallet-media/not-an-id/events`, {
          token: admin,
          body: { kind: 'moved', custodian: 'x' },
        })
      ).status,
    ).toBe(404);
    const stranger = await createOperator(t.url, admin);
    const foreign = await http(t.url, 'GET', `/v1/users/${id}/wallet-media`, { token: stranger.token });
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe('NOT_FOUND');

    const destroyed = await http(t.url, 'POST', url, {
      token: admin,
      body: { kind: 'destroyed', custodian: '佐藤一郎', witness: '鈴木花子' },
    });
    expect(destroyed.status).toBe(201);
    const after = await http(t.url, 'POST', url, { token: admin, body: { kind: 'moved', custodian: 'x' } });
    expect(after.status).toBe(400);

    const me = (await http(t.url, 'GET', '/v1/auth/me', { token: admin })).body;
    const listed = (await http(t.url, 'GET', `/v1/users/${id}/wallet-media`, { token: admin })).body.items[0];
    expect(listed.events.map((e: any) => e.kind)).toEqual(['stored', 'handed-over', 'destroyed']);
    for (const e of listed.events) {
      expect(e.by).toBe(me.id);
      expect(Date.parse(e.at)).toBeGreaterThanOrEqual(before - 1000);
    }
    const audit = await http(t.url, 'GET', '/v1/audit-events?action=wallet.medium.event', { token: admin });
    expect(audit.body.items.filter((e: any) => e.subject.id === medium.mediumId)).toHaveLength(3);
    const issued = await http(t.url, 'GET', '/v1/audit-events?action=wallet.issue', { token: admin });
    expect(issued.body.items.find((e: any) => e.subject.id === id).details.media).toEqual([{ id: medium.mediumId, kind: 'file' }]);
  });

  it('leaves no key bytes in any table, log line or new temp file', async () => {
    expect(keys.length).toBeGreaterThanOrEqual(4);
    const ds = t.app.get(DataSource);
    const tables = await ds.query<Array<{ tablename: string }>>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
    let dump = '';
    for (const { tablename } of tables) dump += JSON.stringify(await ds.query(`SELECT * FROM "${tablename}"`)) + '\n';
    expect(findSecrets(dump, keys)).toEqual([]);
    expect(findSecrets(t.logs.join('\n'), keys)).toEqual([]);
    const temp = filesNewerThan(tmpdir(), started)
      .map((f) => readFileSync(f).toString('latin1'))
      .join('\n');
    expect(findSecrets(temp, keys)).toEqual([]);
  });
});
