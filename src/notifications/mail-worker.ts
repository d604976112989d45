/**
 * Sends queued mail over SMTP_URL (nodemailer, UTF-8). Rows are claimed with
 * FOR UPDATE SKIP LOCKED inside a transaction that stays open while the message is
 * handed to the server, so two instances never send the same row. A failure backs off
 * exponentially (1 s … 5 min) and is retried forever; the row keeps the last error.
 * Delivery is at-least-once: a crash after the server accepted a message but before
 * the commit sends it again.
 */
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { createTransport, type Transporter } from 'nodemailer';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { firstLine } from '../common/logging';
import { Loop } from '../common/loop';
import { Metrics } from '../common/metrics';
import type { MailOutbox } from './entities/mail-outbox.entity';

const BATCH = 10;
const POLL_MS = 500;

@Injectable()
export class MailWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('MailWorker');
  private transport: Transporter | undefined;
  private readonly loop = new Loop(
    POLL_MS,
    async () => {
      await this.tick();
      return false;
    },
    (e) => this.logger.warn(`mail tick failed: ${firstLine(e)}`),
  );
  private readonly sent;

  constructor(
    private readonly ds: DataSource,
    private readonly config: AppConfig,
    metrics: Metrics,
  ) {
    this.sent = metrics.counter('kagi_mail_total', 'Outbox mail by outcome', ['outcome']);
  }

  onApplicationBootstrap(): void {
    if (!this.config.mail.smtpUrl || this.config.offline) return;
    this.transport = createTransport(this.config.mail.smtpUrl, { from: this.config.mail.from });
    this.loop.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.loop.stop();
    this.transport?.close();
  }

  /** One pass: claims due rows and tries each once. Returns the number sent. */
  async tick(): Promise<number> {
    const transport = this.transport;
    if (!transport) return 0;
    let sent = 0;
    await this.ds.transaction(async (em) => {
      const rows = await em.query<MailOutbox[]>(
        `SELECT id, recipients, subject, body, attempts FROM mail_outbox
          WHERE sent_at IS NULL AND next_attempt_at <= now()
          ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [BATCH],
      );
      for (const row of rows) {
        try {
          await transport.sendMail({ to: row.recipients, subject: row.subject, text: row.body, textEncoding: 'base64' });
          await em.query('UPDATE mail_outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1', [row.id]);
          this.sent.inc({ outcome: 'sent' });
          sent++;
        } catch (e) {
          const delay = Math.min(2 ** row.attempts, 300);
          const msg = e instanceof Error ? e.message.split('\n')[0]?.slice(0, 400) : 'send failed';
          await em.query(
            `UPDATE mail_outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1`,
            [row.id, msg, delay],
          );
          this.sent.inc({ outcome: 'retry' });
        }
      }
    });
    return sent;
  }
}
