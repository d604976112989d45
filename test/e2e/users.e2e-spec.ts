/** Investors, ops notifications and mail over a real SMTP server. */
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/processes';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, uniq, type OperatorFixture } from '../support/api';
import { TestSmtp } from '../support/smtp';

describe('users and notifications', () => {
  let t: TestApp;
  let smtp: TestSmtp;
  let admin: string;
  let opA: OperatorFixture;
  let opB: OperatorFixture;

  beforeAll(async () => {
    smtp = new TestSmtp(await freePort());
    await smtp.start();
    t = await createTestApp({
      env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, OPS_NOTIFY_EMAILS: 'ops@kagi.example,compliance@kagi.example' },
    });
    admin = await adminToken(t.url);
    opA = await createOperator(t.url, admin);
    opB = await createOperator(t.url, admin);
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.stop();
  });

  it('registers an investor with a Japanese name, notifies ops by feed and UTF-8 mail', async () => {
    const ref = uniq('C');
    const r = await http(t.url, 'POST', '/v1/users', {
      token: opA.token,
      body: { name: '山田花子', email: 'hanako@example.jp', externalRef: ref },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      operatorId: opA.id,
      name: '山田花子',
      externalRef: ref,
      walletAddress: null,
      walletStatus: 'pending',
      previousWalletAddresses: [],
    });
    await expect.poll(() => smtp.mails.filter((m) => m.text.includes(r.body.id)).length, { timeout: 15_000 }).toBe(1);
    const mail = smtp.mails.find((m) => m.text.includes(r.body.id))!;
    expect(mail.to.sort()).toEqual(['compliance@kagi.example', 'ops@kagi.example']);
    expect(mail.subject).toContain('山田花子');
    expect(mail.text).toContain('新しい投資家が登録されました');
    const feed = await http(t.url, 'GET', '/v1/notifications', { token: admin });
    const n = feed.body.items.find((i: any) => i.body.includes(r.body.id));
    expect(n).toMatchObject({ kind: 'user.registered', readAt: null });
    expect((await http(t.url, 'POST', `/v1/notifications/${n.id}/read`, { token: opB.token })).status).toBe(404);
    expect((await http(t.url, 'POST', `/v1/notifications/${n.id}/read`, { token: opA.token })).status).toBe(204);
  });

  it('refuses a duplicate externalRef per operator only, and bad input with field errors', async () => {
    const ref = uniq('C');
    expect(
      (await http(t.url, 'POST', '/v1/users', { token: opA.token, body: { name: 'A', email: 'a@example.jp', externalRef: ref } })).status,
    ).toBe(201);
    const dup = await http(t.url, 'POST', '/v1/users', { token: opA.token, body: { name: 'B', email: 'b@example.jp', externalRef: ref } });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('EXTERNAL_REF_TAKEN');
    expect(
      (await http(t.url, 'POST', '/v1/users', { token: opB.token, body: { name: 'C', email: 'c@example.jp', externalRef: ref } })).status,
    ).toBe(201);
    const bad = await http(t.url, 'POST', '/v1/users', {
      token: opA.token,
      body: { name: '', email: 'nope', externalRef: 'x'.repeat(65), walletAddress: '0x0' },
    });
    expect(bad.status).toBe(400);
    expect([...new Set(bad.body.errors.map((e: any) => e.field))].sort()).toEqual(['email', 'externalRef', 'name', 'walletAddress']);
    expect((await http(t.url, 'POST', '/v1/users', { token: admin, body: { name: 'x', email: 'x@example.jp' } })).status).toBe(403);
  });

  it('scopes lists and reads to the operator; foreign ids are 404 like unknown ones', async () => {
    const mine = await http(t.url, 'POST', '/v1/users', { token: opB.token, body: { name: 'Only B', email: 'b@example.jp' } });
    const listA = await http(t.url, 'GET', '/v1/users?limit=100', { token: opA.token });
    expect(listA.body.items.every((u: any) => u.operatorId === opA.id)).toBe(true);
    const foreign = await http(t.url, 'GET', `/v1/users/${mine.body.id}`, { token: opA.token });
    const unknown = await http(t.url, 'GET', '/v1/users/00000000-0000-4000-8000-000000000000', { token: opA.token });
    expect(foreign.status).toBe(404);
    expect({ ...foreign.body, instance: 0 }).toEqual({ ...unknown.body, instance: 0 });
    expect((await http(t.url, 'GET', `/v1/users/${mine.body.id}`, { token: admin })).status).toBe(200);
    const pending = await http(t.url, 'GET', '/v1/users?walletStatus=pending&limit=100', { token: admin });
    expect(pending.body.items.every((u: any) => u.walletStatus === 'pending')).toBe(true);
    expect((await http(t.url, 'GET', '/v1/users?walletStatus=lost', { token: admin })).status).toBe(400);
  });

  it('keeps mail through an SMTP outage and delivers it exactly once when the server is back', async () => {
    await smtp.stop();
    const r = await http(t.url, 'POST', '/v1/users', { token: opA.token, body: { name: '佐藤一郎', email: 'ichiro@example.jp' } });
    expect(r.status).toBe(201); // the outage never fails a registration
    const ds = t.app.get(DataSource);
    await expect
      .poll(
        async () =>
          (
            await ds.query<Array<{ attempts: number; last_error: string | null }>>(
              "SELECT attempts, last_error FROM mail_outbox WHERE body LIKE '%' || $1 || '%'",
              [r.body.id],
            )
          )[0]?.attempts ?? 0,
        { timeout: 15_000 },
      )
      .toBeGreaterThan(0);
    await smtp.start();
    await expect.poll(() => smtp.mails.filter((m) => m.text.includes(r.body.id)).length, { timeout: 30_000, interval: 250 }).toBe(1);
    await new Promise((res) => setTimeout(res, 2500));
    expect(smtp.mails.filter((m) => m.text.includes(r.body.id))).toHaveLength(1);
  }, 60_000);

  it('never sends a mail twice when two instances share the outbox', async () => {
    const second = await createTestApp({ env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, OPS_NOTIFY_EMAILS: 'ops@kagi.example' } });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) {
        const via = i % 2 ? t.url : second.url;
        ids.push((await http(via, 'POST', '/v1/users', { token: opA.token, body: { name: `並行 ${i}`, email: 'p@example.jp' } })).body.id);
      }
      await expect
        .poll(() => ids.every((id) => smtp.mails.some((m) => m.text.includes(id))), { timeout: 30_000, interval: 250 })
        .toBe(true);
      await new Promise((res) => setTimeout(res, 2000));
      for (const id of ids)
        expect(
          smtp.mails.filter((m) => m.text.includes(id)),
          id,
        ).toHaveLength(1);
    } finally {
      await second.close();
    }
  }, 60_000);
});
