/** The mail_outbox table (owned by notifications): the messages; sending runs as `mail.send` jobs. */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { MailOutbox } from './entities/mail-outbox.entity';

@Injectable()
export class MailRepository {
  constructor(private readonly ds: DataSource) {}

  async insert(
    em: EntityManager,
    m: { notificationId: string | null; recipients: string; subject: string; body: string },
  ): Promise<string> {
    const r = await em.getRepository(MailOutbox).insert({ ...m, attempts: 0, nextAttemptAt: new Date(), sentAt: null, lastError: null });
    return String((r.identifiers[0] as { id: string }).id);
  }

  /** The message to send, or undefined when it was sent already (a job run again after a crash). */
  async unsent(id: string): Promise<Pick<MailOutbox, 'recipients' | 'subject' | 'body'> | undefined> {
    const [row] = await this.ds.query<Array<Pick<MailOutbox, 'recipients' | 'subject' | 'body'>>>(
      'SELECT recipients, subject, body FROM mail_outbox WHERE id = $1 AND sent_at IS NULL',
      [id],
    );
    return row;
  }

  async markSent(id: string): Promise<void> {
    await this.ds.query('UPDATE mail_outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1', [id]);
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.ds.query('UPDATE mail_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [id, error]);
  }
}
