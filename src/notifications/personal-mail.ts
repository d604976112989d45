/**
 * Mail to one person (a new staff member, an applicant): their login id, or a one-time
 * activation code. The outbox row and its `mail.send` job are written in the caller's
 * transaction, like ops mail; a secret in the message is sealed with the envelope under the
 * row's id (purpose `mail-secret`), so the database never holds it in clear, and it is
 * cleared once the message is sent. Needs KMS: the API only (the secure room mails nobody).
 */
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { Envelope } from '../kms/envelope';
import { Jobs } from '../jobs/jobs.service';
import { MAIL_JOB, MAIL_MAX_ATTEMPTS, mailSecretContext, SECRET_PLACEHOLDER } from './mail-worker';
import { MailRepository } from './mail.repository';

@Injectable()
export class PersonalMail {
  constructor(
    private readonly config: AppConfig,
    private readonly envelope: Envelope,
    private readonly mail: MailRepository,
    private readonly jobs: Jobs,
  ) {}

  /** Whether mail can go out at all (SMTP_URL is set; production requires it). */
  get enabled(): boolean {
    return Boolean(this.config.mail.smtpUrl);
  }

  /**
   * Queues `body` to `to`; with `secret`, the body must contain {{secret}} once, replaced only
   * when the message is sent. Does nothing when SMTP is not configured (development).
   */
  async send(em: EntityManager, m: { to: string; subject: string; body: string; secret?: string }): Promise<void> {
    if (!this.enabled) return;
    const id = randomUUID();
    let sealed;
    if (m.secret !== undefined) {
      if (!m.body.includes(SECRET_PLACEHOLDER)) throw new Error('a secret mail needs {{secret}} in its body');
      const plain = Buffer.from(m.secret, 'utf8');
      try {
        sealed = await this.envelope.seal(plain, mailSecretContext(id));
      } finally {
        plain.fill(0);
      }
    }
    await this.mail.insert(em, { id, notificationId: null, recipients: m.to, subject: m.subject, body: m.body, secret: sealed });
    await this.jobs.enqueue(em, { type: MAIL_JOB, payload: { outboxId: id }, maxAttempts: MAIL_MAX_ATTEMPTS });
  }
}
