/**
 * Ops notifications: a stored feed and, when SMTP_URL is set, e-mail through an outbox.
 * The notification and its outbox row are written in the caller's transaction, so a
 * registration is never lost and never fails because mail is down. Nothing here ever
 * carries a secret: callers pass names, ids and addresses only.
 *
 * Read state is per reader (notification_reads): an admin marking a notification read does
 * not mark it for the firm, nor one staff member for another.
 */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { firmOf, type Principal } from '../common/principal';
import { NotFoundError } from '../common/app-error';
import { decodeCursor, encodeCursor, type Page, type PageQuery } from '../common/pagination';
import { AppConfig } from '../config/app-config';
import { Jobs } from '../jobs/jobs.service';
import { MAIL_JOB, MAIL_MAX_ATTEMPTS } from './mail-worker';
import { MailRepository } from './mail.repository';
import { Notification } from './entities/notification.entity';

export interface NotificationDto {
  id: string;
  kind: string;
  subject: string;
  body: string;
  createdAt: string;
  readAt: string | null;
}

const MICROS = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

@Injectable()
export class NotificationsService {
  constructor(
    private readonly ds: DataSource,
    private readonly config: AppConfig,
    private readonly mail: MailRepository,
    private readonly jobs: Jobs,
  ) {}

  /** Stores a notification (and queues mail to the ops recipients when `mailOps`). */
  async notify(
    em: EntityManager,
    n: { kind: string; operatorId: string | null; subject: string; body: string; mailOps: boolean },
  ): Promise<void> {
    const repo = em.getRepository(Notification);
    const saved = await repo.save(repo.create({ kind: n.kind, operatorId: n.operatorId, subject: n.subject, body: n.body }));
    const recipients = this.config.mail.opsRecipients;
    if (n.mailOps && this.config.mail.smtpUrl && recipients.length) {
      const outboxId = await this.mail.insert(em, {
        notificationId: saved.id,
        recipients: recipients.join(','),
        subject: n.subject,
        body: n.body,
      });
      await this.jobs.enqueue(em, { type: MAIL_JOB, payload: { outboxId }, maxAttempts: MAIL_MAX_ATTEMPTS });
    }
  }

  /**
   * A wallet was issued to a user: the firm (and ops) are told, on the first issuance as on a
   * reissue. Called by wallet issuance inside its transaction.
   */
  async walletIssued(
    em: EntityManager,
    w: { user: { id: string; name: string; operatorId: string }; address: string; oldAddress: string | null; reason?: string | null },
  ): Promise<void> {
    const { user, address, oldAddress } = w;
    if (oldAddress) {
      await this.notify(em, {
        kind: 'wallet.reissued',
        operatorId: user.operatorId,
        subject: `[kagi] ウォレット再発行 / Wallet reissued: ${user.name}`,
        body: [
          `The wallet of user ${user.id} (${user.name}) was reissued.`,
          `Old address: ${oldAddress}`,
          `New address: ${address}`,
          `Reason: ${w.reason ?? '-'}`,
        ].join('\n'),
        mailOps: true,
      });
      return;
    }
    await this.notify(em, {
      kind: 'wallet.issued',
      operatorId: user.operatorId,
      subject: `[kagi] ウォレット発行 / Wallet issued: ${user.name}`,
      body: [`A wallet was issued to user ${user.id} (${user.name}).`, `Address: ${address}`].join('\n'),
      mailOps: false,
    });
  }

  /** Newest first; `readAt` is the caller's own read mark. */
  async list(p: Principal, q: PageQuery): Promise<Page<NotificationDto>> {
    const limit = q.limit ?? 20;
    const firm = firmOf(p);
    const params: unknown[] = [p.type, p.id, limit + 1];
    const where: string[] = [];
    if (firm) {
      params.push(firm);
      where.push(`n.operator_id = $${params.length}`);
    }
    if (q.cursor) {
      const c = decodeCursor(q.cursor);
      params.push(c.t, c.id);
      where.push(`(n.created_at < $${params.length - 1} OR (n.created_at = $${params.length - 1} AND n.id < $${params.length}))`);
    }
    const rows = await this.ds.query<
      Array<{ id: string; kind: string; subject: string; body: string; created_at: Date; created_micros: string; read_at: Date | null }>
    >(
      `SELECT n.id, n.kind, n.subject, n.body, n.created_at, ${MICROS('n.created_at')} AS created_micros, r.read_at
         FROM notifications n
         LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.reader_type = $1 AND r.reader_id = $2
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY n.created_at DESC, n.id DESC LIMIT $3`,
      params,
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((n) => ({
        id: n.id,
        kind: n.kind,
        subject: n.subject,
        body: n.body,
        createdAt: n.created_at.toISOString(),
        readAt: n.read_at ? n.read_at.toISOString() : null,
      })),
      nextCursor: rows.length > limit && last ? encodeCursor(last.created_micros, last.id) : null,
    };
  }

  /** Marks the notification read for the caller only; the first mark's time is kept. */
  async markRead(p: Principal, id: string): Promise<void> {
    const firm = firmOf(p);
    const rows = await this.ds.query<Array<{ id: string }>>(
      `WITH target AS (SELECT id FROM notifications WHERE id = $1 AND ($4::uuid IS NULL OR operator_id = $4::uuid)),
            ins AS (INSERT INTO notification_reads (notification_id, reader_type, reader_id)
                    SELECT id, $2, $3 FROM target ON CONFLICT DO NOTHING)
       SELECT id FROM target`,
      [id, p.type, p.id, firm],
    );
    if (!rows.length) throw new NotFoundError('Notification');
  }
}
