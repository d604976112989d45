/** Login, lockout, rate limits, token checks and revocation, over HTTP on the real app. */
import { createHmac } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, http, type TestApp } from '../support/app';
import { ADMIN, adminToken, createOperator, login, uniq } from '../support/api';

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
function forge(header: object, payload: object, key: string | null): string {
  const unsigned = `${b64(header)}.${b64(payload)}`;
  return key === null ? `${unsigned}.` : `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`;
}

describe('auth', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await createTestApp();
    admin = await adminToken(t.url);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('bootstraps the first admin and logs in with the contract shape', async () => {
    const r = await http(t.url, 'POST', '/v1/auth/login', { body: ADMIN });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, principal: { type: 'admin' } });
    const me = await http(t.url, 'GET', '/v1/auth/me', { token: r.body.accessToken });
    expect(me.body).toMatchObject({ type: 'admin', loginId: ADMIN.loginId, id: r.body.principal.id });
  });

  it('answers an unknown loginId and a wrong password identically', async () => {
    const op = await createOperator(t.url, admin);
    const a = await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: uniq('nobody'), password: 'whatever-password' } });
    const b = await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: op.loginId, password: 'wrong-password-123' } });
    expect(a.status).toBe(401);
    expect(b.status).toBe(401);
    const strip = (x: any) => ({ ...x, instance: undefined });
    expect(strip(a.body)).toEqual(strip(b.body));
    expect(a.body.code).toBe('INVALID_CREDENTIALS');
  });

  it('locks a loginId after 5 failures with 429 ACCOUNT_LOCKED and Retry-After, also after a restart', async () => {
    const op = await createOperator(t.url, admin);
    for (let i = 0; i < 5; i++)
      expect((await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: op.loginId, password: `bad-password-${i}` } })).status).toBe(
        401,
      );
    const locked = await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: op.loginId, password: op.password } });
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe('ACCOUNT_LOCKED');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(800);
    // Kept in PostgreSQL: a fresh instance still refuses.
    const other = await createTestApp();
    try {
      const again = await http(other.url, 'POST', '/v1/auth/login', { body: { loginId: op.loginId.toUpperCase(), password: op.password } });
      expect(again.status).toBe(429);
    } finally {
      await other.close();
    }
    const audit = await http(t.url, 'GET', `/v1/audit-events?action=auth.lockout`, { token: admin });
    expect(audit.body.items.some((e: any) => e.details.loginId === op.loginId.toLowerCase())).toBe(true);
  });

  it('rate-limits a client with 429 RATE_LIMITED and Retry-After, across instances', async () => {
    const a = await createTestApp({ env: { RATE_LIMIT_PER_MINUTE: '1000000', LOGIN_RATE_LIMIT_PER_MINUTE: '3' } });
    try {
      // Buckets are shared through PostgreSQL: count what earlier tests used in this minute.
      const statuses: number[] = [];
      for (let i = 0; i < 40 && !statuses.includes(429); i++)
        statuses.push((await http(a.url, 'POST', '/v1/auth/login', { body: { loginId: uniq('x'), password: 'irrelevant-pass' } })).status);
      expect(statuses).toContain(429);
      const r = await http(a.url, 'POST', '/v1/auth/login', { body: ADMIN });
      expect(r.status).toBe(429);
      expect(r.body.code).toBe('RATE_LIMITED');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await a.close();
    }
  });

  it('refuses missing, malformed, forged, alg-none, expired and wrong-type tokens with 401', async () => {
    const key = t.config.auth.jwtSigningKey;
    const me = await http(t.url, 'POST', '/v1/auth/login', { body: ADMIN });
    const id = me.body.principal.id as string;
    const now = Math.floor(Date.now() / 1000);
    const good = { sub: id, typ: 'admin', tv: 1, jti: 'x', iat: now, exp: now + 600 };
    const cases: Array<[string, Record<string, string>]> = [
      ['none', {}],
      ['garbage', { authorization: 'Bearer not-a-jwt' }],
      ['basic', { authorization: 'Basic YWRtaW46YWRtaW4=' }],
      ['alg none', { authorization: `Bearer ${forge({ alg: 'none', typ: 'JWT' }, good, null)}` }],
      ['wrong key', { authorization: `Bearer ${forge({ alg: 'HS256', typ: 'JWT' }, good, 'another-key-0123456789abcdef0123456789')}` }],
      ['expired', { authorization: `Bearer ${forge({ alg: 'HS256', typ: 'JWT' }, { ...good, iat: now - 7200, exp: now - 3600 }, key)}` }],
      ['other principal type', { authorization: `Bearer ${forge({ alg: 'HS256', typ: 'JWT' }, { ...good, typ: 'operator' }, key)}` }],
      ['HS512', { authorization: `Bearer ${forge({ alg: 'HS512', typ: 'JWT' }, good, key)}` }],
    ];
    for (const [name, headers] of cases) {
      const r = await http(t.url, 'GET', '/v1/auth/me', { headers });
      expect(r.status, name).toBe(401);
      expect(r.body.code, name).toBe('UNAUTHENTICATED');
    }
    // The same claims signed correctly pass: the refusals above are about the token, not the claims.
    const valid = forge({ alg: 'HS256', typ: 'JWT' }, good, key);
    expect((await http(t.url, 'GET', '/v1/auth/me', { headers: { authorization: `Bearer ${valid}` } })).status).toBe(200);
  });

  it('enforces password rules and revokes other tokens on a password change, keeping the calling one', async () => {
    const op = await createOperator(t.url, admin);
    const other = await login(t.url, op.loginId, op.password);
    const weak = await http(t.url, 'POST', '/v1/auth/password', {
      token: op.token,
      body: { currentPassword: op.password, newPassword: 'short' },
    });
    expect(weak.status).toBe(422);
    expect(weak.body.code).toBe('WEAK_PASSWORD');
    const containsLogin = await http(t.url, 'POST', '/v1/auth/password', {
      token: op.token,
      body: { currentPassword: op.password, newPassword: `xx${op.loginId.toUpperCase()}xx` },
    });
    expect(containsLogin.body.code).toBe('WEAK_PASSWORD');
    const wrongCurrent = await http(t.url, 'POST', '/v1/auth/password', {
      token: op.token,
      body: { currentPassword: 'not-my-password', newPassword: 'a-fine-new-passphrase' },
    });
    expect(wrongCurrent.status).toBe(401);
    const ok = await http(t.url, 'POST', '/v1/auth/password', {
      token: op.token,
      body: { currentPassword: op.password, newPassword: 'a-fine-new-passphrase' },
    });
    expect(ok.status).toBe(204);
    expect((await http(t.url, 'GET', '/v1/auth/me', { token: other })).status).toBe(401);
    expect((await http(t.url, 'GET', '/v1/auth/me', { token: op.token })).status).toBe(200);
    expect((await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: op.loginId, password: op.password } })).status).toBe(401);
    await login(t.url, op.loginId, 'a-fine-new-passphrase');
  });

  it('refuses an Idempotency-Key on login and unknown fields', async () => {
    const r = await http(t.url, 'POST', '/v1/auth/login', { body: ADMIN, headers: { 'idempotency-key': 'k1' } });
    expect(r.status).toBe(400);
    const u = await http(t.url, 'POST', '/v1/auth/login', { body: { ...ADMIN, extra: 1 } });
    expect(u.status).toBe(400);
    expect(u.body.errors).toEqual([{ field: 'extra', message: 'extra is not an allowed field' }]);
  });

  it('keeps the audit trail append-only and free of passwords', async () => {
    const ds = t.app.get(DataSource);
    await expect(ds.query("UPDATE audit_events SET outcome = 'success'")).rejects.toThrow(/append-only/);
    await expect(ds.query('DELETE FROM audit_events')).rejects.toThrow(/append-only/);
    // The audit chain references every event, so a plain TRUNCATE is refused before the trigger
    // runs; with CASCADE it reaches the append-only trigger.
    await expect(ds.query('TRUNCATE audit_events')).rejects.toThrow(/append-only|referenced in a foreign key/);
    await expect(ds.query('TRUNCATE audit_events CASCADE')).rejects.toThrow(/append-only/);
    const rows = await ds.query<Array<{ d: string }>>('SELECT details::text AS d FROM audit_events');
    const all = rows.map((r) => r.d).join('\n') + t.logs.join('\n');
    expect(all).not.toContain(ADMIN.password);
    expect(all).not.toContain('a-fine-new-passphrase');
    expect(all).not.toMatch(/"password"\s*:\s*"[^[]/);
  });
});
