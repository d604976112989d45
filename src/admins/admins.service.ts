/**
 * More platform admins (POST /v1/admins), since platform four eyes needs a second one. A new
 * admin activates as a staff member does: a one-time code (24 h) through POST /v1/auth/activate,
 * in the answer outside production and e-mailed in production. Every admin is notified.
 */
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AuditSink } from '../audit/audit-sink';
import { AuthService, newActivationCode } from '../auth/auth.service';
import { NotFoundError } from '../common/app-error';
import { decodeCursor, encodeCursor, type Page, type PageQuery } from '../common/pagination';
import { actorOf, type Principal } from '../common/principal';
import { AppConfig } from '../config/app-config';
import { NotificationsService } from '../notifications/notifications.service';
import { PersonalMail } from '../notifications/personal-mail';
import { AdminsRepository, type AdminRow } from './admins.repository';

export interface AdminView {
  id: string;
  loginId: string;
  name: string;
  email: string | null;
  mfaEnabled: boolean;
  createdAt: string;
}

const view = (r: AdminRow): AdminView => ({
  id: r.id,
  loginId: r.login_id,
  name: r.name,
  email: r.email,
  mfaEnabled: r.totp_enabled,
  createdAt: new Date(r.created_at).toISOString(),
});

@Injectable()
export class AdminsService {
  constructor(
    private readonly repo: AdminsRepository,
    private readonly auth: AuthService,
    private readonly notifications: NotificationsService,
    private readonly mail: PersonalMail,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
  ) {}

  async create(
    p: Principal,
    dto: { loginId: string; name: string; email: string },
    requestId?: string,
  ): Promise<{ admin: AdminView; activationCode?: string }> {
    const id = randomUUID();
    const activation = newActivationCode();
    const passwordHash = await this.auth.unusablePasswordHash();
    await this.repo.transaction(async (em) => {
      await this.auth.insertPrincipal(em, {
        id,
        type: 'admin',
        loginId: dto.loginId,
        name: dto.name,
        passwordHash,
        activation: { codeHash: activation.hash, expiresAt: activation.expiresAt },
      });
      await this.repo.insertProfile(em, id, dto.email);
      await this.audit.record(
        {
          actor: actorOf(p),
          action: 'admin.create',
          subject: { type: 'admin', id },
          outcome: 'success',
          details: { loginId: dto.loginId },
          requestId,
        },
        em,
      );
      // The platform feed (operatorId null) is every admin's; ops get the mail.
      await this.notifications.notify(em, {
        kind: 'admin.created',
        operatorId: null,
        subject: 'A new platform admin was added',
        body: `Admin ${dto.loginId} was added by ${p.loginId}; it activates with a one-time code (valid 24 hours).`,
        mailOps: true,
      });
      // The code itself goes to the new admin only (sealed in the outbox until sent).
      await this.mail.send(em, {
        to: dto.email,
        subject: '[kagi] 管理者ログインの有効化 / Activate your kagi admin login',
        body: [
          `Login id: ${dto.loginId}`,
          'Activation code (one-time, valid for 24 hours): {{secret}}',
          'Activate at POST /v1/auth/activate with your login id, this code and a new password.',
        ].join('\n'),
        secret: activation.code,
      });
    });
    const admin = await this.repo.one(id);
    if (!admin) throw new NotFoundError('Admin');
    return this.config.isProduction ? { admin: view(admin) } : { admin: view(admin), activationCode: activation.code };
  }

  async list(q: PageQuery): Promise<Page<AdminView>> {
    const limit = q.limit ?? 20;
    const c = q.cursor ? decodeCursor(q.cursor) : undefined;
    const rows = await this.repo.page(limit + 1, c ? { createdAt: c.t, id: c.id } : undefined);
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items: items.map(view), nextCursor: rows.length > limit && last ? encodeCursor(new Date(last.created_at), last.id) : null };
  }
}
