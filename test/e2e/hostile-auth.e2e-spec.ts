/**
 * JWT tampering, forged by hand with node:crypto: alg none, wrong key, algorithm
 * confusion (RS256/ES256/HS512 headers), expired and not-yet-valid tokens, claims of
 * another principal type, unknown (deleted) principals, revoked and suspended principals'
 * tokens, garbage segments, and random mutations of a valid token. Every one on reading
 * and writing routes: 401 UNAUTHENTICATED (403 ACCOUNT_SUSPENDED only where the contract
 * says), never a 5xx, and nothing written.
 */
import { createHmac, createSign, generateKeyPairSync, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, http, type TestApp } from '../support/app';
import { ADMIN, adminToken, createOperator, login, type OperatorFixture } from '../support/api';
import { freshDatabase, WriteWatcher, type Snapshot } from '../support/db';
import { createTenant, expectContractAnswer, refusedWithoutWrites, type Tenant } from '../support/hostile';

const SEED = Number(process.env.FC_SEED ?? 20260514);
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function hmac(alg: 'sha256' | 'sha384' | 'sha512', key: string | Buffer, data: string): string {
  return createHmac(alg, key).update(data).digest('base64url');
}

/** header.payload.signature; `sign` gets the signing input. */
function forge(header: unknown, payload: unknown, sign: (input: string) => string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(input)}`;
}

describe('hostile tokens', () => {
  let t: TestApp;
  let key: string;
  let admin: string;
  let adminId: string;
  let a: Tenant;
  let suspended: OperatorFixture;
  let watcher: WriteWatcher;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    const db = await freshDatabase('auth');
    // No audit anchor during the run: an anchor is a transaction of its own, which the write watcher would count.
    t = await createTestApp({ env: { DATABASE_URL: db, AUDIT_ANCHOR_INTERVAL: '1h' } });
    key = t.config.auth.jwtSigningKey;
    admin = await adminToken(t.url);
    adminId = (await http(t.url, 'GET', '/v1/auth/me', { token: admin })).body.id;
    a = await createTenant(t.url, admin, 'jwt');
    suspended = await createOperator(t.url, admin);
    expect((await http(t.url, 'POST', `/v1/operators/${suspended.id}/suspend`, { token: admin })).status).toBe(200);
    watcher = await WriteWatcher.open(db);
  }, 150_000);
  afterAll(async () => {
    await watcher?.close();
    await t?.close();
  });

  /** Reading and writing routes of both principal kinds; each accepted answer would write or reveal something. */
  const routes = () => [
    { method: 'GET', path: '/v1/auth/me' },
    { method: 'GET', path: '/v1/users' },
    { method: 'POST', path: '/v1/users', body: { name: '偽造', email: 'forged@example.jp' } },
    { method: 'POST', path: `/v1/tokens/${a.tokenId}/issue`, body: { userId: a.userId, amount: '1' } },
    { method: 'POST', path: '/v1/operators', body: { name: '偽造証券', email: 'f@example.jp', password: 'forged-password-123' } },
    { method: 'POST', path: '/v1/auth/password', body: { currentPassword: ADMIN.password, newPassword: 'forged-new-password-1' } },
  ];

  /** Sends the token on every route; each must be refused with `code`, writing nothing. */
  async function refusedEverywhere(
    label: string,
    authorization: string,
    code: 'UNAUTHENTICATED' | 'ACCOUNT_SUSPENDED' = 'UNAUTHENTICATED',
    before?: Snapshot,
  ): Promise<Snapshot> {
    let b = before ?? (await watcher.quiet());
    for (const r of routes()) {
      const res = await refusedWithoutWrites(
        watcher,
        `${label} ${r.method} ${r.path}`,
        () => http(t.url, r.method, r.path, { body: r.body, headers: { authorization } }),
        b,
      );
      expectContractAnswer(`${label} ${r.method} ${r.path}`, res.status, res.headers.get('content-type'), res.body);
      expect(res.body.code, `${label} ${r.method} ${r.path}`).toBe(code);
      b = await watcher.snapshot();
    }
    return b;
  }

  it('refuses alg none, wrong keys and algorithm confusion', async () => {
    const claims = { sub: adminId, typ: 'admin', tv: 1, jti: randomUUID(), iat: now(), exp: now() + 600 };
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rs256 = (input: string) => createSign('RSA-SHA256').update(input).sign(rsa.privateKey).toString('base64url');
    const es256 = (input: string) =>
      createSign('SHA256').update(input).sign({ key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    const cases: Array<[string, string]> = [
      ['alg none', forge({ alg: 'none', typ: 'JWT' }, claims, () => '')],
      ['alg None', forge({ alg: 'None', typ: 'JWT' }, claims, () => '')],
      ['alg NONE with an HS256 signature', forge({ alg: 'NONE' }, claims, (i) => hmac('sha256', key, i))],
      ['no alg', forge({ typ: 'JWT' }, claims, (i) => hmac('sha256', key, i))],
      ['HS256, wrong key', forge({ alg: 'HS256', typ: 'JWT' }, claims, (i) => hmac('sha256', 'another-key-0123456789abcdef0123456789', i))],
      ['HS256, empty key', forge({ alg: 'HS256' }, claims, (i) => hmac('sha256', '', i))],
      ['HS384 with the right key', forge({ alg: 'HS384' }, claims, (i) => hmac('sha384', key, i))],
      ['HS512 with the right key', forge({ alg: 'HS512' }, claims, (i) => hmac('sha512', key, i))],
      ['RS256 header, HMAC of the right key', forge({ alg: 'RS256' }, claims, (i) => hmac('sha256', key, i))],
      ['RS256, a real RSA signature', forge({ alg: 'RS256' }, claims, rs256)],
      ['RS256 with an embedded jwk', forge({ alg: 'RS256', jwk: rsa.publicKey.export({ format: 'jwk' }) }, claims, rs256)],
      ['ES256, a real ECDSA signature', forge({ alg: 'ES256' }, claims, es256)],
      ['HS256 signed with the signing input as key', forge({ alg: 'HS256' }, claims, (i) => hmac('sha256', i, i))],
      [
        'signature of other claims',
        `${b64({ alg: 'HS256' })}.${b64(claims)}.${forge({ alg: 'HS256' }, { ...claims, tv: 2 }, (i) => hmac('sha256', key, i)).split('.')[2]}`,
      ],
    ];
    let b: Snapshot | undefined;
    for (const [label, tok] of cases) b = await refusedEverywhere(label, `Bearer ${tok}`, 'UNAUTHENTICATED', b);
    // Control: the same claims, correctly signed, are accepted (the refusals are about the token, not the claims).
    const good = forge({ alg: 'HS256', typ: 'JWT' }, claims, (i) => hmac('sha256', key, i));
    expect((await http(t.url, 'GET', '/v1/auth/me', { headers: { authorization: `Bearer ${good}` } })).status).toBe(200);
  }, 60_000);

  it('refuses expired, not-yet-valid and malformed time claims', async () => {
    const base = { sub: adminId, typ: 'admin', tv: 1, jti: randomUUID() };
    const sign = (claims: object) => `Bearer ${forge({ alg: 'HS256', typ: 'JWT' }, claims, (i) => hmac('sha256', key, i))}`;
    const cases: Array<[string, object]> = [
      ['expired an hour ago', { ...base, iat: now() - 7200, exp: now() - 3600 }],
      ['expired a second ago', { ...base, iat: now() - 900, exp: now() - 1 }],
      ['not valid before tomorrow', { ...base, iat: now(), nbf: now() + 86_400, exp: now() + 90_000 }],
      ['exp as a string', { ...base, iat: now(), exp: String(now() + 600) }],
      ['exp not a number', { ...base, iat: now(), exp: 'never' }],
      ['nbf as a string', { ...base, iat: now(), nbf: 'now', exp: now() + 600 }],
    ];
    let b: Snapshot | undefined;
    for (const [label, claims] of cases) b = await refusedEverywhere(label, sign(claims), 'UNAUTHENTICATED', b);
  }, 60_000);

  it('refuses claims of another principal type, unknown or malformed principals and wrong versions', async () => {
    const sign = (claims: object) =>
      `Bearer ${forge({ alg: 'HS256', typ: 'JWT' }, { iat: now(), exp: now() + 600, jti: randomUUID(), ...claims }, (i) => hmac('sha256', key, i))}`;
    const cases: Array<[string, object]> = [
      ['operator claiming typ admin', { sub: a.op.id, typ: 'admin', tv: 1 }],
      ['admin claiming typ operator', { sub: adminId, typ: 'operator', tv: 1 }],
      ['typ user', { sub: a.userId, typ: 'user', tv: 1 }],
      ['typ missing', { sub: adminId, tv: 1 }],
      ['a principal that does not exist (deleted)', { sub: randomUUID(), typ: 'admin', tv: 1 }],
      ['an investor id as operator', { sub: a.userId, typ: 'operator', tv: 1 }],
      ['sub not a uuid', { sub: "' OR '1'='1", typ: 'admin', tv: 1 }],
      ['sub a number', { sub: 1, typ: 'admin', tv: 1 }],
      ['sub an array', { sub: [adminId], typ: 'admin', tv: 1 }],
      ['an older token version', { sub: adminId, typ: 'admin', tv: 0 }],
      ['a newer token version', { sub: adminId, typ: 'admin', tv: 2 }],
      ['tv a string', { sub: adminId, typ: 'admin', tv: '1' }],
      ['jti missing', { sub: adminId, typ: 'admin', tv: 1, jti: undefined }],
    ];
    let b: Snapshot | undefined;
    for (const [label, claims] of cases) b = await refusedEverywhere(label, sign(claims), 'UNAUTHENTICATED', b);
  }, 60_000);

  it('refuses garbage in place of a token', async () => {
    const valid = admin.split('.');
    const cases = [
      'Bearer ',
      'Bearer a.b.c',
      'Bearer ..',
      'Bearer x',
      `Bearer ${valid.join('.')}.extra`,
      `Bearer ${valid.slice(0, 2).join('.')}`,
      `Bearer ${b64('not json')}.${valid[1]}.${valid[2]}`,
      `Bearer ${b64([1, 2])}.${b64('null')}.${valid[2]}`,
      `Bearer ${valid[0]}.${b64('42')}.${valid[2]}`,
      `Bearer ${admin} ${admin}`,
      `bearer ${admin}`,
      `Basic ${Buffer.from(`${ADMIN.loginId}:${ADMIN.password}`).toString('base64')}`,
      `Bearer ${'A'.repeat(5000)}`,
      `Bearer ${admin.replace(/\./g, '%2E')}`,
      'Bearer é.é.é',
      `Token ${admin}`,
    ];
    let b: Snapshot | undefined;
    for (const c of cases) b = await refusedEverywhere(JSON.stringify(c.slice(0, 40)), c, 'UNAUTHENTICATED', b);
  }, 60_000);

  it('refuses a token revoked by a password change, and the suspended operator (403 only with a current token)', async () => {
    const op = await createOperator(t.url, admin);
    const old = await login(t.url, op.loginId, op.password);
    expect(
      (
        await http(t.url, 'POST', '/v1/auth/password', {
          token: op.token,
          body: { currentPassword: op.password, newPassword: 'a-brand-new-passphrase' },
        })
      ).status,
    ).toBe(204);
    await refusedEverywhere('revoked by password change', `Bearer ${old}`);
    // Suspension revoked the operator's token: it is just invalid (401), also after a resume.
    await refusedEverywhere("suspended operator's revoked token", `Bearer ${suspended.token}`);
    // A suspended operator's login and any token carrying its current version: 403 ACCOUNT_SUSPENDED.
    const loginAttempt = await refusedWithoutWrites(watcher, 'suspended login', () =>
      http(t.url, 'POST', '/v1/auth/login', { body: { loginId: suspended.loginId, password: suspended.password } }),
    );
    expect([loginAttempt.status, loginAttempt.body.code]).toEqual([403, 'ACCOUNT_SUSPENDED']);
    const codes: string[] = [];
    for (const tv of [1, 2, 3]) {
      const tok = forge(
        { alg: 'HS256' },
        { sub: suspended.id, typ: 'operator', tv, jti: randomUUID(), iat: now(), exp: now() + 600 },
        (i) => hmac('sha256', key, i),
      );
      const r = await refusedWithoutWrites(watcher, `suspended tv=${tv}`, () => http(t.url, 'GET', '/v1/auth/me', { token: tok }));
      expectContractAnswer(`suspended tv=${tv}`, r.status, r.headers.get('content-type'), r.body);
      codes.push(r.body.code);
    }
    expect(codes.filter((c) => c === 'ACCOUNT_SUSPENDED')).toHaveLength(1);
    expect(codes.filter((c) => c === 'UNAUTHENTICATED')).toHaveLength(2);
    const current = forge(
      { alg: 'HS256' },
      { sub: suspended.id, typ: 'operator', tv: 1 + codes.indexOf('ACCOUNT_SUSPENDED'), jti: randomUUID(), iat: now(), exp: now() + 600 },
      (i) => hmac('sha256', key, i),
    );
    await refusedEverywhere('suspended operator, current version', `Bearer ${current}`, 'ACCOUNT_SUSPENDED');
    const resumed = await createOperator(t.url, admin);
    const pre = await login(t.url, resumed.loginId, resumed.password);
    expect((await http(t.url, 'POST', `/v1/operators/${resumed.id}/suspend`, { token: admin })).status).toBe(200);
    expect((await http(t.url, 'POST', `/v1/operators/${resumed.id}/resume`, { token: admin })).status).toBe(200);
    await refusedEverywhere('token from before a suspension, after the resume', `Bearer ${pre}`);
  }, 60_000);

  it('refuses every mutation of a valid token', async () => {
    // An operator token on a writing route: accepting a mutated token would create a user.
    const valid = a.op.token;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    let refused = 0;
    let unchanged = 0;
    let b = await watcher.quiet();
    process.stderr.write(`[hostile tokens] fast-check seed ${SEED} (FC_SEED overrides)\n`);
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            at: fc.nat({ max: valid.length - 1 }),
            ch: fc.constantFrom(...alphabet),
            op: fc.constantFrom('replace', 'insert', 'delete'),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        async (edits) => {
          let tok = valid;
          for (const e of edits) {
            const at = Math.min(e.at, tok.length - 1);
            tok =
              e.op === 'replace'
                ? tok.slice(0, at) + e.ch + tok.slice(at + 1)
                : e.op === 'insert'
                  ? tok.slice(0, at) + e.ch + tok.slice(at)
                  : tok.slice(0, at) + tok.slice(at + 1);
          }
          const r = await http(t.url, 'POST', '/v1/users', {
            headers: { authorization: `Bearer ${tok}` },
            body: { name: '変異', email: 'm@example.jp' },
          });
          if (tok === valid) {
            // An edit that changed nothing (a character replaced by itself).
            expect(r.status).toBe(201);
            unchanged++;
            b = await watcher.quiet();
            return;
          }
          // Any other string, even one decoding to the same bytes (base64url's unused low bits), is refused.
          expect([r.status, r.body?.code], tok).toEqual([401, 'UNAUTHENTICATED']);
          const after = await watcher.snapshot();
          expect(WriteWatcher.changed(b, after)).toEqual([]);
          b = after;
          refused++;
        },
      ),
      { numRuns: 300, seed: SEED },
    );
    process.stderr.write(`[hostile tokens] mutations: ${refused} refused, ${unchanged} left the token unchanged\n`);
    expect(refused).toBeGreaterThan(250);
  }, 60_000);
});
