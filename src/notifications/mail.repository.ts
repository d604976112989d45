/** The mail_outbox table (owned by notifications): the messages; sending runs as `mail.send` jobs. */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { SealedSecret } from '../kms/envelope';
import { MailOutbox } from './entities/mail-outbox.entity';

export interface UnsentMail {
  recipients: string;
  subject: string;
  body: string;
  /** The sealed secret the body's `{{secret}}` stands for, if any. */
  secret: SealedSecret | null;
}

@Injectable()
export class MailRepository {
  constructor(private readonly ds: DataSource) {}

  async insert(
    em: EntityManager,
    m: { id?: string; notificationId: string | null; recipients: string; subject: string; body: string; secret?: SealedSecret },
  ): Promise<string> {
    const { secret, ...rest } = m;
    const r = await em.getRepository(MailOutbox).insert({
      ...rest,
      secretEncrypted: secret?.encryptedKey ?? null,
      secretDataKey: secret?.encryptedDataKey ?? null,
      secretKmsKeyId: secret?.kmsKeyId ?? null,
      attempts: 0,
      nextAttemptAt: new Date(),
      sentAt: null,
      lastError: null,
    });
    return String((r.identifiers[0] as { id: string }).id);
  }

  /** The message to send, or undefined when it was sent already (a job run again after a crash). */
  async unsent(id: string): Promise<UnsentMail | undefined> {
    const [row] = await this.ds.query<
      Array<
        Omit<UnsentMail, 'secret'> & { secret_encrypted: Buffer | null; secret_data_key: Buffer | null; secret_kms_key_id: string | null }
      >
    >(
      `SELECT recipients, subject, body, secret_encrypted, secret_data_key, secret_kms_key_id
         FROM mail_outbox WHERE id = $1 AND sent_at IS NULL`,
      [id],
    );
    if (!row) return undefined;
    const { secret_encrypted, secret_data_key, secret_kms_key_id, ...mail } = row;
    const secret =
      secret_encrypted && secret_data_key && secret_kms_key_id
        ? { encryptedKey: secret_encrypted, encryptedDataKey: secret_data_key, kmsKeyId: secret_kms_key_id }
        : null;
    return { ...mail, secret };
  }

  /** Sent: the sealed secret is no longer needed and goes. */
  async markSent(id: string): Promise<void> {
    await this.ds.query(
      `UPDATE mail_outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL,
              secret_encrypted = NULL, secret_data_key = NULL, secret_kms_key_id = NULL
        WHERE id = $1`,
      [id],
    );
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.ds.query('UPDATE mail_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [id, error]);
  }
}
