/**
 * Sends queued mail over SMTP_URL (nodemailer, UTF-8) as `mail.send` jobs: the outbox row and
 * its job are written in the caller's transaction (NotificationsService.notify), so a message is
 * never lost; a failure backs off exponentially (1 s … 5 min) and is retried for days; the row
 * keeps the last error. Delivery is at least once: a crash after the server accepted a message
 * but before the job completed sends it again (a row already marked sent is not).
 */
import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { createTransport, type Transporter } from 'nodemailer';
import { firstLine } from '../common/logging';
import { Metrics } from '../common/metrics';
import { AppConfig } from '../config/app-config';
import { Envelope } from '../kms/envelope';
import { Jobs } from '../jobs/jobs.service';
import { MailRepository } from './mail.repository';

export const MAIL_JOB = 'mail.send';
/** Days of retries at the 5-minute cap: also set by enqueuers that never register the handler (the secure room). */
export const MAIL_MAX_ATTEMPTS = 2000;
/** What stands for a sealed secret in a stored body (personal-mail.ts). */
export const SECRET_PLACEHOLDER = '{{secret}}';
export const mailSecretContext = (outboxId: string) => ({ purpose: 'mail-secret', outboxId });

@Injectable()
export class MailWorker implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private transport: Transporter | undefined;
  private readonly sent;

  constructor(
    private readonly repo: MailRepository,
    private readonly jobs: Jobs,
    private readonly config: AppConfig,
    private readonly envelope: Envelope,
    metrics: Metrics,
  ) {
    this.sent = metrics.counter('kagi_mail_total', 'Outbox mail by outcome', ['outcome']);
  }

  onModuleInit(): void {
    this.jobs.register<{ outboxId: string }>(MAIL_JOB, (job) => this.send(job.payload.outboxId), {
      maxAttempts: MAIL_MAX_ATTEMPTS,
      backoff: { baseMs: 1000, maxMs: 300_000 },
    });
  }

  onApplicationBootstrap(): void {
    if (!this.config.mail.smtpUrl || this.config.offline) return;
    this.transport = createTransport(this.config.mail.smtpUrl, { from: this.config.mail.from });
  }

  async onModuleDestroy(): Promise<void> {
    this.transport?.close();
  }

  private async send(outboxId: string): Promise<void> {
    const transport = this.transport;
    if (!transport) throw new Error('SMTP is not configured on this instance');
    const row = await this.repo.unsent(outboxId);
    if (!row) return;
    // A secret is opened only here, for this send; the string JavaScript builds from it cannot be wiped.
    let text = row.body;
    if (row.secret) {
      const plain = await this.envelope.open(row.secret, mailSecretContext(outboxId));
      try {
        text = row.body.replace(SECRET_PLACEHOLDER, plain.toString('utf8'));
      } finally {
        plain.fill(0);
      }
    }
    try {
      await transport.sendMail({ to: row.recipients, subject: row.subject, text, textEncoding: 'base64' });
    } catch (e) {
      await this.repo.markFailed(outboxId, firstLine(e).slice(0, 400));
      this.sent.inc({ outcome: 'retry' });
      throw e;
    }
    await this.repo.markSent(outboxId);
    this.sent.inc({ outcome: 'sent' });
  }
}
