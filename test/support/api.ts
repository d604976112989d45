/** Helpers that drive kagi over HTTP as an operator back-office system would. */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { http } from './app';

export const ADMIN = { loginId: 'root-admin', password: 'e2e-platform-password-42' };

export const uniq = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

export async function login(base: string, loginId: string, password: string): Promise<string> {
  const r = await http(base, 'POST', '/v1/auth/login', { body: { loginId, password } });
  expect(r.status, r.text).toBe(200);
  return r.body.accessToken as string;
}

export const adminToken = (base: string) => login(base, ADMIN.loginId, ADMIN.password);

export interface OperatorFixture {
  id: string;
  loginId: string;
  password: string;
  token: string;
  signerAddress: `0x${string}`;
  body: any;
}

export async function createOperator(base: string, admin: string, over: Record<string, unknown> = {}): Promise<OperatorFixture> {
  const loginId = (over.loginId as string | undefined) ?? uniq('op');
  const password = (over.password as string | undefined) ?? `pw-${randomBytes(8).toString('hex')}`;
  const r = await http(base, 'POST', '/v1/operators', {
    token: admin,
    body: { name: 'テスト証券', email: `${loginId}@example.jp`, password, loginId, ...over },
  });
  expect(r.status, r.text).toBe(201);
  const { token, password: changed } = await firstLogin(base, loginId, password);
  return { id: r.body.id, loginId, password: changed, token, signerAddress: r.body.signerAddress, body: r.body };
}

/**
 * The first login of a member created with a password by someone else (v1's admin path in
 * dev/test): it must change the password before anything else. Returns a token that works
 * and the member's own new password.
 */
async function firstLogin(base: string, loginId: string, password: string): Promise<{ token: string; password: string }> {
  const token = await login(base, loginId, password);
  const own = `own-${randomBytes(8).toString('hex')}`;
  const r = await http(base, 'POST', '/v1/auth/password', { token, body: { currentPassword: password, newPassword: own } });
  expect(r.status, r.text).toBe(204);
  // A fresh token, as a member would hold after logging in with its own password.
  return { token: await login(base, loginId, own), password: own };
}
