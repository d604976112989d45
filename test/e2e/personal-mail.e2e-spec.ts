/**
 * Mail to one person over a real SMTP server: a new staff member's activation code and an
 * approved applicant's login id. While the message waits in the outbox the code is sealed
 * (not in any column in clear); once sent, even the ciphertext is gone.
 */
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/processes';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, createOperator, uniq, type OperatorFixture } from '../support/api';
import { TestSmtp } from '../support/smtp';

describe('mail to one person', () => {
  let t: TestApp;
  let smtp: TestSmtp;
  let admin: string;
  let firm: OperatorFixture;

  beforeAll(async () => {
    smtp = new TestSmtp(await freePort());
    await smtp.start();
    t = await createTestApp({ env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}` } });
    admin = await adminToken(t.url);
    firm = await createOperator(t.url, admin);
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.stop();
  });

  it('e-mails a new member its activation code, sealed in the outbox until sent, then gone', async () => {
    await smtp.stop();
    const loginId = uniq('member');
    const email = `${loginId}@example.jp`;
    const created = await http(t.url, 'POST', `/v1/operators/${firm.id}/staff`, {
      token: firm.token,
      body: { loginId, name: '佐藤', email, roles: ['maker'] },
    });
    expect(created.status, created.text).toBe(201);
    const code: string = created.body.activationCode;
    expect(code).toEqual(expect.any(String));

    const db = t.app.get(DataSource);
    const waiting = await db.query<Array<Record<string, unknown>>>(`SELECT * FROM mail_outbox WHERE recipients = $1`, [email]);
    expect(waiting).toHaveLength(1);
    const row = waiting[0]!;
    expect(row.sent_at).toBeNull();
    expect(row.body).toContain('{{secret}}');
    expect(row.body).toContain(loginId);
    expect(Buffer.isBuffer(row.secret_encrypted)).toBe(true);
    for (const [column, value] of Object.entries(row)) {
      const text = Buffer.isBuffer(value) ? value.toString('latin1') : JSON.stringify(value);
      expect(text.includes(code), `activation code in clear in mail_outbox.${column}`).toBe(false);
    }

    await smtp.start();
    await expect.poll(() => smtp.mails.filter((m) => m.to.includes(email)).length, { timeout: 30_000 }).toBe(1);
    const mail = smtp.mails.find((m) => m.to.includes(email))!;
    expect(mail.text).toContain(`Login id: ${loginId}`);
    expect(mail.text).toContain(code);
    expect(mail.text).not.toContain('{{secret}}');

    const act = await http(t.url, 'POST', '/v1/auth/activate', {
      body: { loginId, activationCode: mail.text.match(/24 hours\): (\S+)/)?.[1], newPassword: `member-${uniq('pw')}-long` },
    });
    expect(act.status, act.text).toBe(200);
    await expect
      .poll(async () => (await db.query(`SELECT secret_encrypted, sent_at FROM mail_outbox WHERE recipients = $1`, [email]))[0], {
        timeout: 10_000,
      })
      .toMatchObject({ secret_encrypted: null, sent_at: expect.any(Date) });
  });

  it('e-mails an approved applicant the login id kagi issued', async () => {
    const email = `${uniq('apply')}@example.jp`;
    const applied = await http(t.url, 'POST', '/v1/operator-applications', {
      body: { firmName: '申請証券', email, password: `applicant-${uniq('pw')}-passphrase` },
    });
    expect(applied.status, applied.text).toBe(202);
    const approved = await http(t.url, 'POST', `/v1/operator-applications/${applied.body.id}/approve`, { token: admin });
    expect(approved.status, approved.text).toBe(201);
    await expect.poll(() => smtp.mails.filter((m) => m.to.includes(email)).length, { timeout: 15_000 }).toBe(1);
    expect(smtp.mails.find((m) => m.to.includes(email))!.text).toContain(`Login id: ${approved.body.loginId}`);
  });

  it('e-mails a new platform admin its activation code', async () => {
    const loginId = uniq('ops-admin');
    const email = `${loginId}@platform.example.jp`;
    const created = await http(t.url, 'POST', '/v1/admins', { token: admin, body: { loginId, name: '管理者', email } });
    expect(created.status, created.text).toBe(201);
    await expect.poll(() => smtp.mails.filter((m) => m.to.includes(email)).length, { timeout: 15_000 }).toBe(1);
    const mail = smtp.mails.find((m) => m.to.includes(email))!;
    expect(mail.text).toContain(`Login id: ${loginId}`);
    expect(mail.text).toContain(created.body.activationCode);
  });
});
