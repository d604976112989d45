/**
 * Hostile headers: CR/LF, control and non-ASCII bytes in X-Request-Id, Idempotency-Key,
 * Prefer, Accept and Content-Type; duplicate and conflicting headers; huge `Prefer: wait`;
 * Idempotency-Key abuse. What fetch refuses to send goes over a bare socket. Never a 5xx,
 * every error problem+json with a contract code, never a header reflected unchecked, and
 * a refused request writes nothing (own database, so every write is this file's).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, login, type OperatorFixture } from '../support/api';
import { freshDatabase, WriteWatcher } from '../support/db';
import { createTenant, expectContractAnswer, refusedWithoutWrites, type Tenant } from '../support/hostile';
import { rawRequest, type RawAnswer } from '../support/raw-http';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

describe('hostile headers', () => {
  let t: TestApp;
  let admin: string;
  let a: Tenant;
  let watcher: WriteWatcher;

  beforeAll(async () => {
    const db = await freshDatabase('headers');
    // No audit anchor during the run: an anchor is a transaction of its own, which the write watcher would count.
    t = await createTestApp({ env: { DATABASE_URL: db, AUDIT_ANCHOR_INTERVAL: '1h' } });
    admin = await adminToken(t.url);
    a = await createTenant(t.url, admin, 'hdr');
    watcher = await WriteWatcher.open(db);
  }, 150_000);
  afterAll(async () => {
    await watcher?.close();
    await t?.close();
  });

  const raw = (head: string | Buffer, body: string | Buffer = '') => rawRequest(t.url, head, body);
  const rawContract = (label: string, r: RawAnswer) => expectContractAnswer(label, r.status, r.headers['content-type']?.[0], r.json);
  const bytes = (...parts: Array<string | Buffer>) => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p, 'latin1'))));
  /** A refused POST (unknown field) whose X-Request-Id line is given raw. */
  const refusedPost = (requestIdLine: Buffer | string) => {
    const body = JSON.stringify({ name: 'x', email: 'x@example.jp', unknownField: 1 });
    return raw(
      bytes(
        `POST /v1/users HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer ${a.op.token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n`,
        requestIdLine,
      ),
      body,
    );
  };

  it('echoes a well-formed X-Request-Id and replaces anything else; CR/LF never splits the answer', async () => {
    const ok = await refusedWithoutWrites(watcher, 'valid id', () => refusedPost('X-Request-Id: req-123.abc:1'));
    expect(ok.headers['x-request-id']).toEqual(['req-123.abc:1']);
    const cases: Array<[string, Buffer | string]> = [
      ['CRLF + Set-Cookie', 'X-Request-Id: a\r\nSet-Cookie: pwn=1'],
      ['bare LF + header', 'X-Request-Id: a\nX-Injected: 1'],
      ['bare CR', 'X-Request-Id: a\rX-Injected: 1'],
      ['NUL', 'X-Request-Id: a\x00b'],
      ['UTF-8', bytes('X-Request-Id: ', Buffer.from('山田-1', 'utf8'))],
      ['latin1 byte', bytes('X-Request-Id: a', Buffer.from([0xe9]))],
      ['percent-encoded CRLF', 'X-Request-Id: a%0d%0aSet-Cookie:%20pwn=1'],
      ['129 characters', `X-Request-Id: ${'r'.repeat(129)}`],
      ['space inside', 'X-Request-Id: a b'],
      ['duplicate', 'X-Request-Id: one\r\nX-Request-Id: two'],
    ];
    for (const [label, line] of cases) {
      const r = await refusedWithoutWrites(watcher, label, () => refusedPost(line));
      rawContract(label, r);
      expect(r.headers['set-cookie'], label).toBeUndefined();
      expect(r.headers['x-injected'], label).toBeUndefined();
      for (const id of r.headers['x-request-id'] ?? []) expect(id, label).toMatch(SAFE_REQUEST_ID);
      expect(r.headers['x-request-id']?.[0] ?? '', label).not.toMatch(/pwn|山田|%0d| /);
    }
    const longest = await refusedPost(`X-Request-Id: ${'r'.repeat(128)}`);
    expect(longest.headers['x-request-id']).toEqual(['r'.repeat(128)]);
  });

  it('refuses a malformed Idempotency-Key with 400 and writes nothing; 255 visible characters are fine', async () => {
    const freeze = (keyLine: Buffer | string) => {
      const body = JSON.stringify({ userId: a.pendingUserId });
      return raw(
        bytes(
          `POST /v1/tokens/${a.tokenId}/freeze HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer ${a.op.token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n`,
          keyLine,
        ),
        body,
      );
    };
    const cases: Array<[string, Buffer | string]> = [
      ['256 characters', `Idempotency-Key: ${'k'.repeat(256)}`],
      ['empty', 'Idempotency-Key: '],
      ['UTF-8', bytes('Idempotency-Key: ', Buffer.from('鍵-1', 'utf8'))],
      ['space inside', 'Idempotency-Key: a b'],
      ['tab inside', 'Idempotency-Key: a\tb'],
      ['duplicate (joined with ", ")', 'Idempotency-Key: a\r\nIdempotency-Key: b'],
      ['bare CR', 'Idempotency-Key: a\rb'],
    ];
    for (const [label, line] of cases) {
      const r = await refusedWithoutWrites(watcher, label, () => freeze(line));
      rawContract(label, r);
      expect(r.status, label).toBe(400);
      expect(r.json.code, label).toBe('VALIDATION_FAILED');
    }
    // The pending user has no wallet: with a valid 255-character key the refusal is the pre-check's, and leaves no key behind.
    const long = await refusedWithoutWrites(watcher, '255 characters', () => freeze(`Idempotency-Key: ${'k'.repeat(255)}`));
    expect(long.json.code).toBe('WALLET_NOT_ISSUED');
    const accepted = await http(t.url, 'POST', `/v1/tokens/${a.tokenId}/issue`, {
      token: a.op.token,
      body: { userId: a.userId, amount: '1' },
      headers: { 'idempotency-key': 'k'.repeat(255) },
    });
    expect(accepted.status, accepted.text).toBe(202);
  });

  it('keeps Idempotency-Key semantics under abuse: replay, other body, other route, concurrency, other principal', async () => {
    const issue = (op: OperatorFixture, tokenId: string, body: unknown, key: string) =>
      http(t.url, 'POST', `/v1/tokens/${tokenId}/issue`, { token: op.token, body, headers: { 'idempotency-key': key } });
    const count = async (tokenId: string) =>
      (await http(t.url, 'GET', `/v1/transactions?tokenId=${tokenId}&kind=issue&limit=100`, { token: admin })).body.items.length as number;
    const body = { userId: a.userId, amount: '2' };
    const before = await count(a.tokenId);
    const first = await issue(a.op, a.tokenId, body, 'abuse-1');
    expect(first.status).toBe(202);
    const replay = await issue(a.op, a.tokenId, { amount: '2', userId: a.userId }, 'abuse-1');
    expect(replay.status).toBe(202);
    expect(replay.body.id).toBe(first.body.id);
    await watcher.quiet();
    for (const [label, send] of [
      ['other amount', () => issue(a.op, a.tokenId, { ...body, amount: '3' }, 'abuse-1')],
      [
        'other route, same body',
        () => http(t.url, 'POST', `/v1/tokens/${a.tokenId}/redeem`, { token: a.op.token, body, headers: { 'idempotency-key': 'abuse-1' } }),
      ],
      ['extra field', () => issue(a.op, a.tokenId, { ...body, reason: 'x' }, 'abuse-1')],
    ] as const) {
      const r = await refusedWithoutWrites(watcher, label, send);
      expect([r.status, r.body?.code], label).toEqual(r.status === 400 ? [400, 'VALIDATION_FAILED'] : [422, 'IDEMPOTENCY_KEY_REUSED']);
    }
    expect(await count(a.tokenId)).toBe(before + 1);

    // Five at once with one new key: one transaction; the others replay it or are told it is in use.
    const burst = await Promise.all(Array.from({ length: 5 }, () => issue(a.op, a.tokenId, { ...body, amount: '4' }, 'abuse-burst')));
    const ids = new Set(burst.filter((r) => r.status === 202).map((r) => r.body.id as string));
    for (const r of burst) expect([202, 409], r.text).toContain(r.status);
    for (const r of burst.filter((x) => x.status === 409)) expect(r.body.code).toBe('IDEMPOTENCY_KEY_IN_USE');
    expect(ids.size).toBe(1);
    await watcher.quiet();
    expect(await count(a.tokenId)).toBe(before + 2);

    // The same key of another principal is another key: two operators granted one issuer, same key, each its own transaction.
    const issuer = await http(t.url, 'POST', '/v1/issuers', { token: admin, body: { name: '共有発行体' } });
    const other = await createOperator(t.url, admin);
    for (const id of [a.op.id, other.id])
      expect(
        (await http(t.url, 'POST', `/v1/issuers/${issuer.body.id}/operators`, { token: admin, body: { operatorId: id } })).status,
      ).toBe(200);
    const shared = await http(t.url, 'POST', '/v1/tokens', {
      token: a.op.token,
      body: { name: 'Shared', symbol: 'SHR', decimals: 0, issuerId: issuer.body.id },
      headers: { prefer: 'wait=30' },
    });
    expect(shared.body.status, shared.text).toBe('active');
    const otherUser = await http(t.url, 'POST', '/v1/users', { token: other.token, body: { name: '別 投資家', email: 'o@example.jp' } });
    const w = await fetch(`${t.url}/v1/users/${otherUser.body.id}/wallet`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    await w.arrayBuffer();
    const mine = await issue(a.op, shared.body.id, { userId: a.userId, amount: '5' }, 'shared-key');
    const theirs = await issue(other, shared.body.id, { userId: otherUser.body.id, amount: '5' }, 'shared-key');
    expect([mine.status, theirs.status]).toEqual([202, 202]);
    expect(theirs.body.id).not.toBe(mine.body.id);
    expect((await issue(other, shared.body.id, { userId: otherUser.body.id, amount: '5' }, 'shared-key')).body.id).toBe(theirs.body.id);
    await watcher.quiet();
  }, 60_000);

  it('refuses an Idempotency-Key on login and on wallet issuance with 400, writing nothing', async () => {
    const u = await http(t.url, 'POST', '/v1/users', { token: a.op.token, body: { name: '鍵 拒否', email: 'k@example.jp' } });
    const r1 = await refusedWithoutWrites(watcher, 'login', () =>
      http(t.url, 'POST', '/v1/auth/login', {
        body: { loginId: a.op.loginId, password: a.op.password },
        headers: { 'idempotency-key': 'login-1' },
      }),
    );
    expect([r1.status, r1.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect(r1.body.accessToken).toBeUndefined();
    const r2 = await refusedWithoutWrites(watcher, 'wallet', () =>
      http(t.url, 'POST', `/v1/users/${u.body.id}/wallet`, { token: admin, body: {}, headers: { 'idempotency-key': 'wallet-1' } }),
    );
    expect([r2.status, r2.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect((await http(t.url, 'GET', `/v1/users/${u.body.id}`, { token: admin })).body.walletStatus).toBe('pending');
  });

  it('clamps a huge Prefer: wait to 60 s: a quick operation answers 200 once final, at once', async () => {
    const started = Date.now();
    const r = await http(t.url, 'POST', `/v1/tokens/${a.tokenId}/issue`, {
      token: a.op.token,
      body: { userId: a.userId, amount: '1' },
      headers: { prefer: 'wait=99999' },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body.status).toBe('confirmed');
    expect(r.headers.get('preference-applied')).toBe('wait=60');
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  // Found by this file: a wait of more than 6 digits used to be ignored instead of clamped.
  it('clamps an 11-digit Prefer: wait to 60 s as well (contract: N clamped to 60)', async () => {
    const r = await http(t.url, 'POST', `/v1/tokens/${a.tokenId}/issue`, {
      token: a.op.token,
      body: { userId: a.userId, amount: '1' },
      headers: { prefer: 'wait=99999999999' },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('preference-applied')).toBe('wait=60');
  });

  it('never errs or hangs on odd Prefer values', async () => {
    const values = [
      'wait=-1',
      'wait=abc',
      'wait=1e3',
      'wait=',
      'wait',
      'respond-async',
      'wait=0',
      'wait=2, wait=99999',
      `wait=1; ${'x'.repeat(2000)}`,
      'handling=strict; wait=1',
    ];
    for (const prefer of values) {
      const started = Date.now();
      const r = await http(t.url, 'POST', `/v1/tokens/${a.tokenId}/issue`, {
        token: a.op.token,
        body: { userId: a.userId, amount: '1' },
        headers: { prefer },
      });
      expectContractAnswer(`Prefer: ${prefer.slice(0, 30)}`, r.status, r.headers.get('content-type'), r.body);
      expect([200, 202], prefer).toContain(r.status);
      expect(Date.now() - started, prefer).toBeLessThan(62_000);
      const applied = r.headers.get('preference-applied');
      if (applied) expect(Number(/^wait=(\d+)$/.exec(applied)?.[1]), prefer).toBeLessThanOrEqual(60);
    }
    // Through a raw socket: CR inside and a duplicate header.
    // Through a raw socket: CR inside, a duplicate header, full-width digits (UTF-8 bytes).
    for (const line of [
      'Prefer: wait=1\rX: y',
      'Prefer: wait=1\r\nPrefer: wait=99999',
      bytes('Prefer: wait=', Buffer.from('１０', 'utf8')),
    ]) {
      const body = JSON.stringify({ userId: a.userId, amount: '1' });
      const r = await raw(
        bytes(
          `POST /v1/tokens/${a.tokenId}/issue HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer ${a.op.token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n`,
          line,
        ),
        body,
      );
      rawContract(line.toString(), r);
    }
    await watcher.quiet();
  }, 120_000);

  it('treats odd Content-Types, charsets and encodings as client errors that write nothing', async () => {
    const body = JSON.stringify({ name: '型 テスト', email: 'ct@example.jp' });
    const post = (lines: string, payload: Buffer | string = body) =>
      raw(
        `POST /v1/users HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer ${a.op.token}\r\nContent-Length: ${Buffer.byteLength(payload)}${lines}`,
        payload,
      );
    const refused: Array<[string, string, (Buffer | string)?]> = [
      ['text/plain', '\r\nContent-Type: text/plain'],
      ['multipart', '\r\nContent-Type: multipart/form-data; boundary=x'],
      ['form', '\r\nContent-Type: application/x-www-form-urlencoded'],
      ['missing', ''],
      ['utf-16 label, UTF-8 bytes', '\r\nContent-Type: application/json; charset=utf-16'],
      ['latin1', '\r\nContent-Type: application/json; charset=latin1'],
      ['unknown charset', '\r\nContent-Type: application/json; charset=klingon'],
      ['unknown encoding', '\r\nContent-Type: application/json\r\nContent-Encoding: foo'],
      ['gzip label, plain bytes', '\r\nContent-Type: application/json\r\nContent-Encoding: gzip'],
      ['two Content-Types', '\r\nContent-Type: text/plain\r\nContent-Type: application/json'],
      ['conflicting Content-Length', '\r\nContent-Type: application/json\r\nContent-Length: 3'],
      ['chunked and Content-Length', '\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked'],
      ['header over 16 KiB', `\r\nContent-Type: application/json\r\nX-Big: ${'b'.repeat(20_000)}`],
      ['NUL in Content-Type', '\r\nContent-Type: application/json\x00'],
    ];
    for (const [label, lines, payload] of refused) {
      const r = await refusedWithoutWrites(watcher, label, () => post(lines, payload));
      rawContract(label, r);
      expect(r.status, label).toBe(400);
    }
    // What is JSON by the rules is accepted: a +json type and an explicit UTF-8 charset.
    for (const ct of ['application/merge-patch+json', 'application/json; charset=UTF-8']) {
      const r = await post(`\r\nContent-Type: ${ct}`);
      rawContract(ct, r);
      expect(r.status, ct).toBe(201);
    }
    await watcher.quiet();
  });

  it('answers JSON or problem+json whatever Accept says, and CSV only where offered', async () => {
    for (const accept of [
      'text/csv',
      'application/xml',
      'text/html',
      '*/*;q=0',
      'application/problem+json',
      'garbage/\x01',
      `${'a/b,'.repeat(500)}c/d`,
    ]) {
      const list = await raw(`GET /v1/users HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer ${a.op.token}\r\nAccept: ${accept}`);
      rawContract(`Accept ${accept.slice(0, 20)} list`, list);
      const missing = await raw(
        `GET /v1/users/00000000-0000-4000-8000-000000000000 HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer ${a.op.token}\r\nAccept: ${accept}`,
      );
      rawContract(`Accept ${accept.slice(0, 20)} 404`, missing);
      // A control character makes the request unparsable (400); otherwise the id is just unknown.
      expect(missing.json.code).toBe(missing.status === 400 ? 'VALIDATION_FAILED' : 'NOT_FOUND');
    }
    const utf8 = await raw(
      bytes(`GET /v1/users HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer ${a.op.token}\r\nAccept: `, Buffer.from('テキスト/csv', 'utf8')),
    );
    rawContract('Accept in UTF-8', utf8);
    const csv = await raw(
      `GET /v1/tokens/${a.tokenId}/holders HTTP/1.1\r\nHost: k\r\nAuthorization: Bearer ${a.op.token}\r\nAccept: text/csv`,
    );
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']?.[0]).toContain('text/csv');
  });

  it('handles duplicate Authorization headers without a 5xx and without mixing principals', async () => {
    const other = await createOperator(t.url, admin);
    for (const lines of [
      `Authorization: Bearer ${a.op.token}\r\nAuthorization: Bearer ${other.token}`,
      `Authorization: Bearer garbage\r\nAuthorization: Bearer ${a.op.token}`,
      `Authorization: Bearer ${a.op.token}, Bearer ${other.token}`,
      `Authorization: Bearer ${a.op.token}\x00`,
      `Authorization: bearer ${a.op.token}`,
      `Authorization: Bearer  ${a.op.token}`,
      `Authorization: Bearer ${'A'.repeat(5000)}`,
    ]) {
      const r = await raw(`GET /v1/auth/me HTTP/1.1\r\nHost: k\r\n${lines}`);
      rawContract(lines.slice(0, 40), r);
      if (r.status === 200) expect([a.op.id, other.id]).toContain(r.json.id);
    }
    // The refusals above locked nothing: a fresh login still works.
    expect((await http(t.url, 'GET', '/v1/auth/me', { token: await login(t.url, a.op.loginId, a.op.password) })).status).toBe(200);
  });
});
