/**
 * Role × route: each principal kind against the identity routes, with the status the
 * contract gives it. Principals: a firm-admin-only member, a maker, a checker and a viewer
 * of firm A, an API key of A (maker), a platform admin, and firm B's firm-admin (A's ids are
 * foreign to it: 404). Guards run before body validation, so a route a principal may call
 * answers an empty body with 400 and one it may not with 403.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, uniq } from '../support/api';

type Who = 'firmAdmin' | 'maker' | 'checker' | 'viewer' | 'apiKey' | 'admin' | 'otherFirm';
const WHO: Who[] = ['firmAdmin', 'maker', 'checker', 'viewer', 'apiKey', 'admin', 'otherFirm'];

describe('role × route', () => {
  let t: TestApp;
  const creds = {} as Record<Who, Record<string, string>>;
  let firmA = '';
  let viewerId = '';

  beforeAll(async () => {
    t = await createTestApp();
    const admin = await adminToken(t.url);
    const a = await createOperator(t.url, admin);
    const b = await createOperator(t.url, admin);
    firmA = a.id;
    const member = async (roles: string[]) => {
      const loginId = uniq('m');
      const c = await http(t.url, 'POST', `/v1/operators/${a.id}/staff`, {
        token: a.token,
        body: { loginId, name: 'm', email: `${loginId}@example.jp`, roles },
      });
      expect(c.status, c.text).toBe(201);
      expect(c.body.staff.roles).toEqual(roles);
      const act = await http(t.url, 'POST', '/v1/auth/activate', {
        body: { loginId, activationCode: c.body.activationCode, newPassword: `pw-${uniq('x')}-long` },
      });
      expect(act.status, act.text).toBe(200);
      return { id: c.body.staff.id as string, token: act.body.accessToken as string };
    };
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    // Checker first: once a second firm-admin exists, granting checker waits for a control change.
    creds.checker = bearer((await member(['checker'])).token);
    creds.maker = bearer((await member(['maker'])).token);
    const viewer = await member(['viewer']);
    viewerId = viewer.id;
    creds.viewer = bearer(viewer.token);
    creds.firmAdmin = bearer((await member(['firm-admin'])).token);
    const key = await http(t.url, 'POST', '/v1/api-keys', { token: a.token, body: { name: 'matrix', roles: ['maker'] } });
    creds.apiKey = { 'x-api-key': key.body.key };
    creds.admin = bearer(admin);
    creds.otherFirm = bearer(b.token);
  });
  afterAll(async () => {
    await t?.close();
  });

  // [method, path, body, expected status per principal (undefined: not checked)]
  const table = (): Array<[string, string, unknown, Partial<Record<Who, number>>]> => [
    ['GET', '/v1/auth/me', undefined, { firmAdmin: 200, maker: 200, checker: 200, viewer: 200, apiKey: 200, admin: 200, otherFirm: 200 }],
    [
      'GET',
      `/v1/operators/${firmA}`,
      undefined,
      { firmAdmin: 200, maker: 200, checker: 200, viewer: 200, apiKey: 200, admin: 200, otherFirm: 404 },
    ],
    [
      'GET',
      `/v1/operators/${firmA}/staff`,
      undefined,
      { firmAdmin: 200, maker: 403, checker: 403, viewer: 403, apiKey: 403, admin: 200, otherFirm: 404 },
    ],
    [
      'POST',
      `/v1/operators/${firmA}/staff`,
      {},
      { firmAdmin: 400, maker: 403, checker: 403, viewer: 403, apiKey: 403, admin: 403, otherFirm: 400 },
    ],
    [
      'PATCH',
      `/v1/operators/${firmA}/staff/${viewerId}`,
      { status: 'sleeping' },
      { firmAdmin: 400, maker: 403, checker: 403, viewer: 403, apiKey: 403, admin: 403, otherFirm: 400 },
    ],
    [
      'GET',
      `/v1/operators/${firmA}/control-changes`,
      undefined,
      { firmAdmin: 200, maker: 403, checker: 403, viewer: 403, apiKey: 403, admin: 200, otherFirm: 404 },
    ],
    ['GET', '/v1/api-keys', undefined, { firmAdmin: 200, maker: 403, checker: 403, viewer: 403, apiKey: 403, admin: 403, otherFirm: 200 }],
    ['POST', '/v1/api-keys', {}, { firmAdmin: 400, maker: 403, checker: 403, viewer: 403, apiKey: 403, admin: 403, otherFirm: 400 }],
    [
      'GET',
      '/v1/operator-applications',
      undefined,
      { firmAdmin: 403, maker: 403, checker: 403, viewer: 403, apiKey: 403, admin: 200, otherFirm: 403 },
    ],
    ['GET', '/v1/operators', undefined, { firmAdmin: 403, maker: 403, checker: 403, viewer: 403, apiKey: 403, admin: 200, otherFirm: 403 }],
    // Writes without @FirmRoles need `maker` (users, tokens, operations).
    ['POST', '/v1/users', {}, { firmAdmin: 403, maker: 400, checker: 403, viewer: 403, apiKey: 400, otherFirm: 400 }],
    ['POST', '/v1/auth/mfa/totp/confirm', {}, { firmAdmin: 400, maker: 400, checker: 400, viewer: 400, admin: 400, otherFirm: 400 }],
  ];

  it('answers each principal with the contract’s status', async () => {
    const got: string[] = [];
    const want: string[] = [];
    for (const [method, path, body, expected] of table())
      for (const who of WHO) {
        const status = expected[who];
        if (status === undefined) continue;
        const r = await http(t.url, method, path, { headers: creds[who], body });
        got.push(`${method} ${path.replace(firmA, 'A')} as ${who}: ${r.status}`);
        want.push(`${method} ${path.replace(firmA, 'A')} as ${who}: ${status}`);
      }
    expect(got).toEqual(want);
  });
});
