/**
 * Ops notifications: a stored feed and, when SMTP_URL is set, e-mail through an outbox.
 * The notification and its outbox row are written in the caller's transaction, so a
 * registration is never lost and never fails because mail is down. Nothing here ever
 * carries a secret: callers pass names, ids and addresses only.
 */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { Principal } from '../auth/principal';
import { NotFoundError } from '../common/app-error';
import { paginate, type Page, type PageQuery } from '../common/pagination';
import { AppConfig } from '../config/app-config';
import { MailOutbox } from './entities/mail-outbox.entity';
import { Notification } from './entities/notification.entity';

export interface NotificationDto {
  id: string;
  kind: string;
  subject: string;
  body: string;
  createdAt: string;
  readAt: string | null;
}

@Injectable()
export class NotificationsService {
  constructor(
    private readonly ds: DataSource,
    private readonly config: AppConfig,
  ) {}

  /** Stores a notification (and queues mail to the ops recipients when `mailOps`). */
  async notify(
    em: EntityManager,
    n: { kind: string; operatorId: string | null; subject: string; body: string; mailOps: boolean },
  ): Promise<void> {
    const saved = await em
      .getRepository(Notification)
      .save(
        em.getRepository(Notification).create({ kind: n.kind, operatorId: n.operatorId, subject: n.subject, body: n.body, readAt: null }),
      );
    const recipients = this.config.mail.opsRecipients;
    if (n.mailOps && this.config.mail.smtpUrl && recipients.length) {
      await em.getRepository(MailOutbox).insert({
        notificationId: saved.id,
        recipients: recipients.join(','),
        subject: n.subject,
        body: n.body,
        attempts: 0,
        nextAttemptAt: new Date(),
        sentAt: null,
        lastError: null,
      });
    }
  }

  list(p: Principal, q: PageQuery): Promise<Page<NotificationDto>> {
    const qb = this.ds.getRepository(Notification).createQueryBuilder('n');
    if (p.type === 'operator') qb.where('n.operator_id = :me', { me: p.id });
    return paginate(qb, q, (n) => ({
      id: n.id,
      kind: n.kind,
      subject: n.subject,
      body: n.body,
      createdAt: n.createdAt.toISOString(),
      readAt: n.readAt ? n.readAt.toISOString() : null,
    }));
  }

  async markRead(p: Principal, id: string): Promise<void> {
    const qb = this.ds
      .createQueryBuilder()
      .update(Notification)
      .set({ readAt: () => 'COALESCE(read_at, now())' })
      .where('id = :id', { id });
    if (p.type === 'operator') qb.andWhere('operator_id = :me', { me: p.id });
    const r = await qb.execute();
    if (!r.affected) throw new NotFoundError('Notification');
  }
}
