/** Operators over HTTP: creation with a sealed key, isolation, roles, suspension, rewrap, audit. */
import { getAddress, keccak256, stringToBytes } from 'viem';
import { PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { ModulesContainer, Reflector } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IS_PUBLIC } from '../../src/common/public.decorator';
import { ROLES_KEY } from '../../src/common/principal';
import { KeyManagement, KmsUnavailableError } from '../../src/kms/key-management';
import { Envelope } from '../../src/kms/envelope';
import { signingKeyContext } from '../../src/kms/signing-keys';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, login, uniq } from '../support/api';
import { findSecrets } from '../support/secrets';

describe('operators', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await createTestApp();
    admin = await adminToken(t.url);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('creates an operator with a server-issued loginId and a funded signing key stored only sealed', async () => {
    const r = await http(t.url, 'POST', '/v1/operators', {
      token: admin,
      body: { name: '東京証券', email: 'ops@tokyo.example.jp', password: 'long-enough-password' },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: '東京証券', email: 'ops@tokyo.example.jp', status: 'active' });
    expect(r.body.loginId).toMatch(/^op-[0-9a-f]{12}$/);
    expect(r.body.signerAddress).toMatch(/^0x[0-9a-fA-F]{40}$/);
    // Custody has no key: the last 20 bytes of keccak256("kagi:custody:v1:" + id), never the signing address.
    expect(r.body.custodyAddress).toBe(getAddress(`0x${keccak256(stringToBytes(`kagi:custody:v1:${r.body.id}`)).slice(-40)}`));
    expect(r.body.custodyAddress).not.toBe(r.body.signerAddress);
    expect(Object.keys(r.body).sort()).toEqual([
      'createdAt',
      'custodyAddress',
      'email',
      'id',
      'loginId',
      'name',
      'signerAddress',
      'status',
    ]);
    // Funded with gas in dev/test (DEV_GAS_FUNDING), read from the chain directly.
    const bal = await fetch(t.config.chain.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getBalance', params: [r.body.signerAddress, 'latest'] }),
    });
    expect(BigInt(((await bal.json()) as { result: string }).result)).toBeGreaterThan(0n);
    // The database holds ciphertexts only; the key is nowhere in clear.
    const ds = t.app.get(DataSource);
    const [row] = await ds.query<Array<{ encrypted_key: Buffer; encrypted_data_key: Buffer; kms_key_id: string }>>(
      'SELECT encrypted_key, encrypted_data_key, kms_key_id FROM operators WHERE id = $1',
      [r.body.id],
    );
    expect(row!.kms_key_id).toMatch(/^arn:aws:kms:/);
    const plain = await t.app
      .get(Envelope)
      .open(
        { encryptedKey: row!.encrypted_key, encryptedDataKey: row!.encrypted_data_key, kmsKeyId: row!.kms_key_id },
        signingKeyContext({ kind: 'operator', id: r.body.id }, r.body.signerAddress),
      );
    const dump =
      JSON.stringify(await ds.query('SELECT * FROM operators')) +
      JSON.stringify(await ds.query('SELECT * FROM audit_events')) +
      t.logs.join('\n');
    expect(findSecrets(dump, [plain])).toEqual([]);
    plain.fill(0);
  });

  it('refuses a taken loginId across all principals, case-insensitively, and weak passwords', async () => {
    const op = await createOperator(t.url, admin);
    for (const loginId of [op.loginId, op.loginId.toUpperCase(), 'ROOT-ADMIN']) {
      const r = await http(t.url, 'POST', '/v1/operators', {
        token: admin,
        body: { name: 'x', email: 'x@example.com', password: 'long-enough-password', loginId },
      });
      expect(r.status, loginId).toBe(409);
      expect(r.body.code).toBe('LOGIN_ID_TAKEN');
    }
    const weak = await http(t.url, 'POST', '/v1/operators', {
      token: admin,
      body: { name: 'x', email: 'x@example.com', password: 'short', loginId: uniq('w') },
    });
    expect(weak.status).toBe(422);
    expect(weak.body.code).toBe('WEAK_PASSWORD');
    const bad = await http(t.url, 'POST', '/v1/operators', {
      token: admin,
      body: { name: '', email: 'not-mail', password: 'long-enough-password', role: 'admin' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: any) => e.field).sort()).toEqual(['email', 'name', 'role']);
  });

  it('leaves no operator behind when KMS is down, answering 503 KMS_UNAVAILABLE', async () => {
    const down = await createTestApp({
      customize: (b) =>
        b.overrideProvider(KeyManagement).useValue({
          provider: 'aws',
          currentKeyId: () => Promise.reject(new KmsUnavailableError()),
          generateDataKey: () => Promise.reject(new KmsUnavailableError()),
          decrypt: () => Promise.reject(new KmsUnavailableError()),
          reEncrypt: () => Promise.reject(new KmsUnavailableError()),
          probe: () => Promise.reject(new KmsUnavailableError()),
        }),
    });
    try {
      const token = await adminToken(down.url);
      const loginId = uniq('kmsdown');
      const r = await http(down.url, 'POST', '/v1/operators', {
        token,
        body: { name: 'x', email: 'x@example.com', password: 'long-enough-password', loginId },
      });
      expect(r.status).toBe(503);
      expect(r.body.code).toBe('KMS_UNAVAILABLE');
      const ready = await http(down.url, 'GET', '/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.error.kms.status).toBe('down');
      expect((await http(down.url, 'POST', '/v1/auth/login', { body: { loginId, password: 'long-enough-password' } })).status).toBe(401);
      const ds = down.app.get(DataSource);
      expect(await ds.query('SELECT 1 FROM principals WHERE login_id = $1', [loginId])).toHaveLength(0);
    } finally {
      await down.close();
    }
  });

  it('lists with a cursor and isolates operators from each other', async () => {
    const a = await createOperator(t.url, admin);
    const b = await createOperator(t.url, admin);
    const page1 = await http(t.url, 'GET', '/v1/operators?limit=1', { token: admin });
    expect(page1.body.items).toHaveLength(1);
    const page2 = await http(t.url, 'GET', `/v1/operators?limit=1&cursor=${page1.body.nextCursor}`, { token: admin });
    expect(page2.body.items[0].id).not.toBe(page1.body.items[0].id);
    expect((await http(t.url, 'GET', '/v1/operators?limit=101', { token: admin })).status).toBe(400);
    expect((await http(t.url, 'GET', '/v1/operators?cursor=%%%', { token: admin })).status).toBe(400);
    expect((await http(t.url, 'GET', `/v1/operators/${a.id}`, { token: a.token })).status).toBe(200);
    const foreign = await http(t.url, 'GET', `/v1/operators/${b.id}`, { token: a.token });
    const unknown = await http(t.url, 'GET', '/v1/operators/00000000-0000-4000-8000-000000000000', { token: a.token });
    expect(foreign.status).toBe(404);
    expect({ ...foreign.body, instance: 0 }).toEqual({ ...unknown.body, instance: 0 });
    expect((await http(t.url, 'GET', '/v1/operators/not-an-id', { token: admin })).status).toBe(404);
  });

  it('answers 401 without a token and 403 for the wrong principal kind', async () => {
    const op = await createOperator(t.url, admin);
    expect((await http(t.url, 'GET', '/v1/operators')).status).toBe(401);
    for (const [method, path] of [
      ['GET', '/v1/operators'],
      ['POST', '/v1/operators'],
      ['POST', `/v1/operators/${op.id}/suspend`],
      ['POST', `/v1/operators/${op.id}/resume`],
      ['POST', `/v1/operators/${op.id}/key-rewrap`],
    ] as const) {
      const r = await http(t.url, method, path, { token: op.token, body: method === 'POST' ? {} : undefined });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.code).toBe('FORBIDDEN');
    }
  });

  it('suspension revokes tokens at once and refuses login; resume lets it log in again', async () => {
    const op = await createOperator(t.url, admin);
    const s = await http(t.url, 'POST', `/v1/operators/${op.id}/suspend`, { token: admin });
    expect(s.status).toBe(200);
    expect(s.body.status).toBe('suspended');
    expect((await http(t.url, 'GET', '/v1/auth/me', { token: op.token })).status).toBe(401);
    const l = await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: op.loginId, password: op.password } });
    expect(l.status).toBe(403);
    expect(l.body.code).toBe('ACCOUNT_SUSPENDED');
    expect((await http(t.url, 'POST', `/v1/operators/${op.id}/resume`, { token: admin })).body.status).toBe('active');
    const again = await login(t.url, op.loginId, op.password);
    expect((await http(t.url, 'GET', '/v1/auth/me', { token: again })).status).toBe(200);
    const events = await http(t.url, 'GET', `/v1/audit-events?limit=100`, { token: again });
    const actions = events.body.items.map((e: any) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['operator.create', 'operator.suspend', 'operator.resume', 'auth.login']));
    // An operator sees only its own events.
    expect(events.body.items.every((e: any) => e.subject === null || e.subject.id === op.id || e.actor.id === op.id)).toBe(true);
  });

  it('rewraps the key: same address, audited', async () => {
    const op = await createOperator(t.url, admin);
    const r = await http(t.url, 'POST', `/v1/operators/${op.id}/key-rewrap`, { token: admin });
    expect(r.status).toBe(200);
    expect(r.body.signerAddress).toBe(op.signerAddress);
    const ev = await http(t.url, 'GET', '/v1/audit-events?action=key.rewrap', { token: admin });
    expect(ev.body.items.some((e: any) => e.subject.id === op.id && e.outcome === 'success')).toBe(true);
  });

  it('every route is either explicitly public or carries a role', () => {
    const reflector = t.app.get(Reflector);
    const publicRoutes = new Set([
      'POST /v1/auth/login',
      'POST /v1/auth/activate',
      'POST /v1/operator-applications',
      'GET /health/live',
      'GET /health/ready',
      'GET /metrics',
    ]);
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'ALL', 'OPTIONS', 'HEAD'];
    const seen: string[] = [];
    for (const mod of t.app.get(ModulesContainer).values()) {
      for (const wrapper of mod.controllers.values()) {
        const cls = wrapper.metatype as (new (...a: unknown[]) => unknown) | null;
        if (!cls) continue;
        const base = String(Reflect.getMetadata(PATH_METADATA, cls) ?? '');
        for (const name of Object.getOwnPropertyNames(cls.prototype)) {
          const handler = (cls.prototype as Record<string, unknown>)[name];
          if (name === 'constructor' || typeof handler !== 'function' || Reflect.getMetadata(PATH_METADATA, handler) === undefined)
            continue;
          const route = `${methods[Reflect.getMetadata(METHOD_METADATA, handler) as number]} /${[base, Reflect.getMetadata(PATH_METADATA, handler) as string].filter((s) => s && s !== '/').join('/')}`;
          seen.push(route);
          const isPublic = reflector.getAllAndOverride<boolean>(IS_PUBLIC, [handler, cls]) === true;
          const roles = reflector.getAllAndOverride<string[] | undefined>(ROLES_KEY, [handler, cls]);
          if (publicRoutes.has(route)) expect(isPublic, route).toBe(true);
          else expect(isPublic === false && Array.isArray(roles) && roles.length > 0, `${route} must carry @Roles`).toBe(true);
        }
      }
    }
    expect(seen).toEqual(expect.arrayContaining([...publicRoutes, 'POST /v1/operators', 'GET /v1/audit-events']));
  });
});
