/**
 * Firms with their own staff, over HTTP on the real app: staff with roles and activation
 * codes, the last firm-admin, suspension, API keys, TOTP (codes computed here with otplib),
 * control changes with one and with two firm-admins, and ¶0035 applications whose password
 * reaches the database only as a hash.
 */
import { Client } from 'pg';
import { generateSync } from 'otplib';
import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, uniq, type OperatorFixture } from '../support/api';

const totp = (secret: string, offsetSeconds = 0) =>
  generateSync({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSeconds, period: 30, digits: 6, algorithm: 'sha1' });

async function addMember(
  t: TestApp,
  firm: OperatorFixture,
  roles: string[],
): Promise<{ id: string; loginId: string; password: string; token: string; created: any }> {
  const loginId = uniq('staff');
  const created = await http(t.url, 'POST', `/v1/operators/${firm.id}/staff`, {
    token: firm.token,
    body: { loginId, name: 'スタッフ', email: `${loginId}@example.jp`, roles },
  });
  expect([201, 202], created.text).toContain(created.status);
  const password = `member-${uniq('pw')}`;
  const act = await http(t.url, 'POST', '/v1/auth/activate', {
    body: { loginId, activationCode: created.body.activationCode, newPassword: password },
  });
  expect(act.status, act.text).toBe(200);
  return { id: created.body.staff.id, loginId, password, token: act.body.accessToken, created };
}

describe('firms with their own staff', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await createTestApp();
    admin = await adminToken(t.url);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('v1 admin path: the first member has all four roles, keeps the firm id, and must change the password first', async () => {
    const loginId = uniq('op');
    const password = `pw-${uniq('x')}-long`;
    const r = await http(t.url, 'POST', '/v1/operators', {
      token: admin,
      body: { name: 'テスト証券', email: `${loginId}@example.jp`, password, loginId },
    });
    expect(r.status, r.text).toBe(201);
    const login1 = await http(t.url, 'POST', '/v1/auth/login', { body: { loginId, password } });
    expect(login1.body.principal).toEqual({
      type: 'operator',
      id: r.body.id,
      operatorId: r.body.id,
      roles: ['firm-admin', 'maker', 'checker', 'viewer'],
    });
    const token = login1.body.accessToken;
    const blocked = await http(t.url, 'GET', `/v1/operators/${r.body.id}`, { token });
    expect(blocked.status).toBe(403);
    expect(blocked.body.code).toBe('PASSWORD_CHANGE_REQUIRED');
    const me = await http(t.url, 'GET', '/v1/auth/me', { token });
    expect(me.body).toMatchObject({ type: 'operator', id: r.body.id, operatorId: r.body.id, mustChangePassword: true, mfaEnabled: false });
    expect(
      (await http(t.url, 'POST', '/v1/auth/password', { token, body: { currentPassword: password, newPassword: 'our-own-passphrase-1' } }))
        .status,
    ).toBe(204);
    expect((await http(t.url, 'GET', `/v1/operators/${r.body.id}`, { token })).status).toBe(200);
  });

  it('staff: activation codes are one-time, roles act at once, another firm’s ids are 404, the last firm-admin stays', async () => {
    const firm = await createOperator(t.url, admin);
    const other = await createOperator(t.url, admin);
    const viewer = await addMember(t, firm, ['viewer']);
    expect(viewer.created.status).toBe(201);
    expect(viewer.created.body.staff).toMatchObject({ operatorId: firm.id, roles: ['viewer'], status: 'active', mfaEnabled: false });
    // The code worked once.
    const again = await http(t.url, 'POST', '/v1/auth/activate', {
      body: { loginId: viewer.loginId, activationCode: viewer.created.body.activationCode, newPassword: 'another-passphrase-9' },
    });
    expect(again.status).toBe(401);
    expect(again.body.code).toBe('INVALID_CREDENTIALS');
    // The firm's only firm-admin cannot demote or suspend itself.
    const last = await http(t.url, 'PATCH', `/v1/operators/${firm.id}/staff/${firm.id}`, { token: firm.token, body: { roles: ['maker'] } });
    expect(last.status).toBe(409);
    expect(last.body.code).toBe('LAST_FIRM_ADMIN');
    // A viewer reads but does not write or manage staff.
    expect((await http(t.url, 'GET', `/v1/operators/${firm.id}`, { token: viewer.token })).status).toBe(200);
    expect((await http(t.url, 'GET', `/v1/operators/${firm.id}/staff`, { token: viewer.token })).status).toBe(403);
    const write = await http(t.url, 'POST', '/v1/users', { token: viewer.token, body: { name: '投資家', email: 'v@example.jp' } });
    expect(write.status).toBe(403);
    expect(write.body.code).toBe('FORBIDDEN');
    // Roles are read on every request: made firm-admin (at once: one firm-admin, no delay), the same token manages staff.
    const patched = await http(t.url, 'PATCH', `/v1/operators/${firm.id}/staff/${viewer.id}`, {
      token: firm.token,
      body: { roles: ['firm-admin', 'viewer'] },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.roles.sort()).toEqual(['firm-admin', 'viewer']);
    expect((await http(t.url, 'GET', `/v1/operators/${firm.id}/staff`, { token: viewer.token })).status).toBe(200);
    // Another firm's firm-admin: 404 on this firm's ids, as for unknown ones.
    expect((await http(t.url, 'GET', `/v1/operators/${firm.id}/staff`, { token: other.token })).status).toBe(404);
    expect(
      (await http(t.url, 'PATCH', `/v1/operators/${other.id}/staff/${viewer.id}`, { token: other.token, body: { status: 'suspended' } }))
        .status,
    ).toBe(404);
    // Suspension: the member's token stops at once and it cannot log in.
    const susp = await http(t.url, 'PATCH', `/v1/operators/${firm.id}/staff/${viewer.id}`, {
      token: firm.token,
      body: { status: 'suspended' },
    });
    expect(susp.body.status).toBe('suspended');
    expect((await http(t.url, 'GET', '/v1/auth/me', { token: viewer.token })).status).toBe(401);
    const denied = await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: viewer.loginId, password: viewer.password } });
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('ACCOUNT_SUSPENDED');
    const list = await http(t.url, 'GET', `/v1/operators/${firm.id}/staff`, { token: admin });
    expect(list.body.items.map((s: any) => s.id)).toEqual(expect.arrayContaining([firm.id, viewer.id]));
  });

  it('API keys: shown once, X-API-Key works as the firm with its roles, both headers 401, revocation at once', async () => {
    const firm = await createOperator(t.url, admin);
    const bad = await http(t.url, 'POST', '/v1/api-keys', { token: firm.token, body: { name: 'x', roles: ['checker'] } });
    expect(bad.status).toBe(400);
    const created = await http(t.url, 'POST', '/v1/api-keys', { token: firm.token, body: { name: 'back office', roles: ['maker'] } });
    expect(created.status, created.text).toBe(201);
    const key = created.body.key as string;
    expect(key).toMatch(/^kagi_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.body).toMatchObject({ name: 'back office', roles: ['maker'], ownerStaffId: firm.id, expiresAt: null });
    const me = await http(t.url, 'GET', '/v1/auth/me', { headers: { 'x-api-key': key } });
    expect(me.status, me.text).toBe(200);
    expect(me.body).toEqual({
      type: 'api-key',
      id: created.body.id,
      name: 'back office',
      operatorId: firm.id,
      roles: ['maker'],
      ownerStaffId: firm.id,
    });
    // The key reads its firm; firm-scoped writes through keys depend on the tenancy change in users/tokens (p.operatorId).
    expect((await http(t.url, 'GET', `/v1/operators/${firm.id}`, { headers: { 'x-api-key': key } })).status).toBe(200);
    expect((await http(t.url, 'GET', `/v1/operators/${firm.id}/staff`, { headers: { 'x-api-key': key } })).status).toBe(403);
    // A write through the key is audited as the key, with its owner and the client address.
    const investor = await http(t.url, 'POST', '/v1/users', {
      headers: { 'x-api-key': key },
      body: { name: '鍵経由', email: 'via-key@example.jp' },
    });
    expect(investor.status, investor.text).toBe(201);
    const trail = await http(t.url, 'GET', '/v1/audit-events?actorType=api-key', { token: firm.token });
    const event = trail.body.items.find((e: any) => e.subject?.id === investor.body.id);
    expect(event, trail.text).toMatchObject({ actor: { type: 'api-key', id: created.body.id }, details: { via: { owner: firm.id } } });
    expect(event.details.via.clientIp).toMatch(/127\.0\.0\.1/);
    // A key never manages keys or staff.
    expect((await http(t.url, 'GET', '/v1/api-keys', { headers: { 'x-api-key': key } })).status).toBe(403);
    const both = await http(t.url, 'GET', '/v1/auth/me', { token: firm.token, headers: { 'x-api-key': key } });
    expect(both.status).toBe(401);
    expect((await http(t.url, 'GET', '/v1/auth/me', { headers: { 'x-api-key': `${key.slice(0, -2)}AA` } })).status).toBe(401);
    const listed = await http(t.url, 'GET', '/v1/api-keys', { token: firm.token });
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0].lastUsedAt).not.toBeNull();
    // The secret is everything after `kagi_<prefix>_` (it may itself contain underscores).
    expect(JSON.stringify(listed.body)).not.toContain(key.slice(`kagi_${listed.body.items[0].prefix}_`.length));
    expect((await http(t.url, 'DELETE', `/v1/api-keys/${created.body.id}`, { token: firm.token })).status).toBe(204);
    const after = await http(t.url, 'GET', '/v1/auth/me', { headers: { 'x-api-key': key } });
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('UNAUTHENTICATED');
    // Another firm cannot revoke or see it.
    const other = await createOperator(t.url, admin);
    expect((await http(t.url, 'DELETE', `/v1/api-keys/${created.body.id}`, { token: other.token })).status).toBe(404);
    // An expired key is refused like a revoked one.
    const soon = await http(t.url, 'POST', '/v1/api-keys', {
      token: firm.token,
      body: { name: 'short', roles: ['viewer'], expiresAt: new Date(Date.now() + 1500).toISOString() },
    });
    expect(soon.status, soon.text).toBe(201);
    expect((await http(t.url, 'GET', '/v1/auth/me', { headers: { 'x-api-key': soon.body.key } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600));
    expect((await http(t.url, 'GET', '/v1/auth/me', { headers: { 'x-api-key': soon.body.key } })).status).toBe(401);
  });

  it('TOTP: enrol, confirm, login needs otp, each step once, wrong codes count toward the lockout, reset by a firm-admin', async () => {
    const firm = await createOperator(t.url, admin);
    const member = await addMember(t, firm, ['maker']);
    const enrol = await http(t.url, 'POST', '/v1/auth/mfa/totp', { token: member.token, body: {} });
    expect(enrol.status, enrol.text).toBe(201);
    const secret = enrol.body.secret as string;
    expect(enrol.body.otpauthUri).toMatch(/^otpauth:\/\/totp\/.*secret=/);
    const wrong = await http(t.url, 'POST', '/v1/auth/mfa/totp/confirm', { token: member.token, body: { code: '000000' } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors[0].field).toBe('code');
    expect((await http(t.url, 'POST', '/v1/auth/mfa/totp/confirm', { token: member.token, body: { code: totp(secret) } })).status).toBe(
      204,
    );
    const noOtp = await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: member.loginId, password: member.password } });
    expect(noOtp.status).toBe(401);
    expect(noOtp.body.code).toBe('MFA_REQUIRED');
    // The confirm used this step; the next step's code (within the drift window) logs in once.
    const next = totp(secret, 30);
    const ok = await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: member.loginId, password: member.password, otp: next } });
    expect(ok.status, ok.text).toBe(200);
    const reused = await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: member.loginId, password: member.password, otp: next } });
    expect(reused.status).toBe(401);
    expect(reused.body.code).toBe('INVALID_CREDENTIALS');
    const me = await http(t.url, 'GET', '/v1/auth/me', { token: ok.body.accessToken });
    expect(me.body.mfaEnabled).toBe(true);
    // Re-enrolling needs a current code.
    expect((await http(t.url, 'POST', '/v1/auth/mfa/totp', { token: ok.body.accessToken, body: {} })).body.code).toBe('MFA_REQUIRED');
    // Wrong codes count: four more failures lock the login id (the reuse above was the first).
    for (let i = 0; i < 4; i++)
      await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: member.loginId, password: member.password, otp: '123456' } });
    const locked = await http(t.url, 'POST', '/v1/auth/login', {
      body: { loginId: member.loginId, password: member.password, otp: totp(secret, -30) },
    });
    expect(locked.status).toBe(429);
    expect(locked.body.code).toBe('ACCOUNT_LOCKED');
    // The firm-admin resets it: the member's me shows TOTP off.
    expect((await http(t.url, 'POST', `/v1/operators/${firm.id}/staff/${member.id}/mfa-reset`, { token: firm.token })).status).toBe(204);
    expect((await http(t.url, 'GET', '/v1/auth/me', { token: member.token })).body.mfaEnabled).toBe(false);
    // The secret is in the database only sealed.
    const db = new Client({ connectionString: inject('databaseUrl') });
    await db.connect();
    try {
      const dump = await db.query(`SELECT row_to_json(p)::text AS j FROM principals p`);
      expect(dump.rows.some((r: any) => r.j.includes(secret))).toBe(false);
    } finally {
      await db.end();
    }
  });

  it('control changes: one firm-admin with no delay acts at once; with two, granting checker waits for the other', async () => {
    const firm = await createOperator(t.url, admin);
    const second = await addMember(t, firm, ['firm-admin']);
    expect(second.created.status).toBe(201);
    expect(second.created.body.staff.roles).toEqual(['firm-admin']);
    const member = await addMember(t, firm, ['maker', 'checker']);
    expect(member.created.status).toBe(202);
    expect(member.created.body.staff.roles).toEqual(['maker']);
    const changeId = member.created.body.changeId as string;
    expect(member.created.body.effectiveAt).toBeNull();
    const listed = await http(t.url, 'GET', `/v1/operators/${firm.id}/control-changes`, { token: firm.token });
    expect(listed.body.items.find((c: any) => c.id === changeId)).toMatchObject({
      kind: 'grant-roles',
      status: 'pending',
      payload: { roles: ['checker'] },
    });
    const self = await http(t.url, 'POST', `/v1/operators/${firm.id}/control-changes/${changeId}/approve`, { token: firm.token });
    expect(self.status).toBe(403);
    const ok = await http(t.url, 'POST', `/v1/operators/${firm.id}/control-changes/${changeId}/approve`, { token: second.token });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.status).toBe('applied');
    expect((await http(t.url, 'GET', '/v1/auth/me', { token: member.token })).body.roles).toEqual(
      expect.arrayContaining(['maker', 'checker']),
    );
    const twice = await http(t.url, 'POST', `/v1/operators/${firm.id}/control-changes/${changeId}/approve`, { token: second.token });
    expect(twice.body.code).toBe('NOT_PENDING');
    // Now that there are two firm-admins, the first can be demoted.
    const demote = await http(t.url, 'PATCH', `/v1/operators/${firm.id}/staff/${second.id}`, {
      token: firm.token,
      body: { roles: ['viewer'] },
    });
    expect(demote.status, demote.text).toBe(200);
  });

  it('¶0035: an application with the firm’s own password, approved by an admin; the database holds only its hash', async () => {
    const password = `applicant-${uniq('pw')}-passphrase`;
    const weak = await http(t.url, 'POST', '/v1/operator-applications', {
      body: { firmName: '申請証券', email: 'a@example.jp', password: 'short' },
    });
    expect(weak.status).toBe(422);
    const applied = await http(t.url, 'POST', '/v1/operator-applications', {
      body: { firmName: '申請証券', email: 'apply@example.jp', password },
    });
    expect(applied.status, applied.text).toBe(202);
    expect(applied.body).toEqual({ id: expect.any(String), status: 'pending' });
    const listed = await http(t.url, 'GET', '/v1/operator-applications', { token: admin });
    expect(listed.body.items.find((a: any) => a.id === applied.body.id)).toMatchObject({ firmName: '申請証券', status: 'pending' });
    const approved = await http(t.url, 'POST', `/v1/operator-applications/${applied.body.id}/approve`, { token: admin });
    expect(approved.status, approved.text).toBe(201);
    expect(approved.body).toMatchObject({ name: '申請証券', email: 'apply@example.jp', status: 'active' });
    const l = await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: approved.body.loginId, password } });
    expect(l.status, l.text).toBe(200);
    expect(l.body.principal).toMatchObject({ operatorId: approved.body.id, roles: ['firm-admin', 'maker', 'checker', 'viewer'] });
    const me = await http(t.url, 'GET', '/v1/auth/me', { token: l.body.accessToken });
    expect(me.body.mustChangePassword).toBe(false);
    const again = await http(t.url, 'POST', `/v1/operator-applications/${applied.body.id}/approve`, { token: admin });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('APPLICATION_NOT_PENDING');
    expect(
      (await http(t.url, 'POST', '/v1/operator-applications', { body: { firmName: 'x', email: 'a@example.jp', password, extra: 1 } }))
        .status,
    ).toBe(400);
    // Every text column of every table: the password nowhere in clear.
    const db = new Client({ connectionString: inject('databaseUrl') });
    await db.connect();
    try {
      const cols = await db.query<{ table_name: string; column_name: string }>(
        `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'json')`,
      );
      for (const c of cols.rows) {
        const hit = await db.query(`SELECT 1 FROM "${c.table_name}" WHERE "${c.column_name}"::text LIKE $1 LIMIT 1`, [`%${password}%`]);
        expect(hit.rowCount, `${c.table_name}.${c.column_name}`).toBe(0);
      }
    } finally {
      await db.end();
    }
  });

  it('MFA_REQUIRED_FOR: a firm-admin without TOTP reads but cannot write until enrolled, and cannot turn it off', async () => {
    const strict = await createTestApp({ env: { MFA_REQUIRED_FOR: 'admin,firm-admin' } });
    try {
      const firm = await createOperator(t.url, admin);
      const token = await (async () => {
        const r = await http(strict.url, 'POST', '/v1/auth/login', { body: { loginId: firm.loginId, password: firm.password } });
        return r.body.accessToken as string;
      })();
      expect((await http(strict.url, 'GET', `/v1/operators/${firm.id}/staff`, { token })).status).toBe(200);
      const body = { name: 'k', roles: ['viewer'] };
      const refused = await http(strict.url, 'POST', '/v1/api-keys', { token, body });
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe('MFA_NOT_ENABLED');
      const enrol = await http(strict.url, 'POST', '/v1/auth/mfa/totp', { token, body: {} });
      expect(enrol.status, enrol.text).toBe(201);
      expect((await http(strict.url, 'POST', '/v1/auth/mfa/totp/confirm', { token, body: { code: totp(enrol.body.secret) } })).status).toBe(
        204,
      );
      expect((await http(strict.url, 'POST', '/v1/api-keys', { token, body })).status).toBe(201);
      const off = await http(strict.url, 'DELETE', '/v1/auth/mfa/totp', { token, body: { otp: totp(enrol.body.secret, 30) } });
      expect(off.status).toBe(403);
    } finally {
      await strict.close();
    }
  });
});
