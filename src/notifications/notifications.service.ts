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
import type { EntityManager } from 'typeorm';
import { firmOf, type Principal } from '../common/principal';
import { NotFoundError } from '../common/app-error';
import type { Page, PageQuery } from '../common/pagination';
import { AppConfig } from '../config/app-config';
import { Jobs } from '../jobs/jobs.service';
import { MAIL_JOB, MAIL_MAX_ATTEMPTS } from './mail-worker';
import { MailRepository } from './mail.repository';
import { NotificationsRepository, type Reader } from './notifications.repository';

export interface NotificationDto {
  id: string;
  kind: string;
  subject: string;
  body: string;
  createdAt: string;
  readAt: string | null;
}

function readerOf(p: Principal): Reader {
  return { type: p.type, id: p.id, firm: firmOf(p) };
}

@Injectable()
export class NotificationsService {
  constructor(
    private readonly notifications: NotificationsRepository,
    private readonly config: AppConfig,
    private readonly mail: MailRepository,
    private readonly jobs: Jobs,
  ) {}

  /** Stores a notification (and queues mail to the ops recipients when `mailOps`). */
  async notify(
    em: EntityManager,
    n: { kind: string; operatorId: string | null; subject: string; body: string; mailOps: boolean },
  ): Promise<void> {
    const notificationId = await this.notifications.insert(em, {
      kind: n.kind,
      operatorId: n.operatorId,
      subject: n.subject,
      body: n.body,
    });
    const recipients = this.config.mail.opsRecipients;
    if (n.mailOps && this.config.mail.smtpUrl && recipients.length) {
      const outboxId = await this.mail.insert(em, {
        notificationId,
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
    const page = await this.notifications.page(readerOf(p), q);
    return {
      items: page.items.map((n) => ({ ...n, createdAt: n.createdAt.toISOString(), readAt: n.readAt ? n.readAt.toISOString() : null })),
      nextCursor: page.nextCursor,
    };
  }

  /** Marks the notification read for the caller only; the first mark's time is kept. */
  async markRead(p: Principal, id: string): Promise<void> {
    if (!(await this.notifications.markRead(readerOf(p), id))) throw new NotFoundError('Notification');
  }
}
