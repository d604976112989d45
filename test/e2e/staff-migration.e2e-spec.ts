/**
 * The FirmStaff migration keeps a v1 operator login as its firm's first staff member under
 * the same id: a token issued and a request accepted with an Idempotency-Key before the
 * migration stay valid after it (the retry answers the same transaction). The "before" is
 * made by running the migration's down() on a database the app wrote: that is exactly the
 * v1 schema, with v1 rows (an operators row and its principal, no staff row).
 */
import { DataSource } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken } from '../support/api';
import { freshDatabase } from '../support/db';
import { createTenant } from '../support/hostile';

describe('FirmStaff migration', () => {
  let t: TestApp | undefined;
  afterAll(async () => {
    await t?.close();
  });

  it('keeps the v1 principal id: old token and idempotent retry work after the migration', async () => {
    const db = await freshDatabase('staffmig');
    t = await createTestApp({ env: { DATABASE_URL: db } });
    const admin = await adminToken(t.url);
    const tenant = await createTenant(t.url, admin, 'mig');
    const body = { userId: tenant.userId, amount: '7' };
    const first = await http(t.url, 'POST', `/v1/tokens/${tenant.tokenId}/issue`, {
      token: tenant.op.token,
      body,
      headers: { 'idempotency-key': 'before-the-migration', prefer: 'wait=30' },
    });
    expect(first.status, first.text).toBeLessThan(300);
    await t.close();
    t = undefined;

    // Back to v1: the staff table (and every later column) gone.
    const ds = new DataSource(dataSourceOptions(db));
    await ds.initialize();
    try {
      // Every later migration first (each down() exact), then FirmStaff itself.
      for (let i = 0; i < 50; i++) {
        const last = await ds.query<Array<{ name: string }>>(`SELECT name FROM migrations ORDER BY id DESC LIMIT 1`);
        await ds.undoLastMigration({ transaction: 'each' });
        if (last[0]?.name === 'FirmStaff1796155400000') break;
      }
      const left = await ds.query<Array<{ name: string }>>(`SELECT name FROM migrations WHERE name = 'FirmStaff1796155400000'`);
      expect(left).toHaveLength(0);
      const staff = await ds.query<unknown[]>(`SELECT 1 FROM information_schema.tables WHERE table_name = 'staff'`);
      expect(staff).toHaveLength(0);
    } finally {
      await ds.destroy();
    }

    // Start again: the migration runs at boot and turns the v1 login into the firm's first member.
    t = await createTestApp({ env: { DATABASE_URL: db } });
    const me = await http(t.url, 'GET', '/v1/auth/me', { token: tenant.op.token });
    expect(me.status, me.text).toBe(200);
    expect(me.body).toMatchObject({ id: tenant.op.id, operatorId: tenant.op.id, roles: ['firm-admin', 'maker', 'checker', 'viewer'] });
    const retry = await http(t.url, 'POST', `/v1/tokens/${tenant.tokenId}/issue`, {
      token: tenant.op.token,
      body,
      headers: { 'idempotency-key': 'before-the-migration' },
    });
    expect(retry.status, retry.text).toBeLessThan(300);
    expect(retry.body.id).toBe(first.body.id);
    const login = await http(t.url, 'POST', '/v1/auth/login', { body: { loginId: tenant.op.loginId, password: tenant.op.password } });
    expect(login.body.principal).toMatchObject({ type: 'operator', id: tenant.op.id, operatorId: tenant.op.id });
  }, 180_000);
});
