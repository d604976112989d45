/**
 * ¶0035 applications: a firm applies from its own terminal with its own password, which is
 * hashed (argon2id, under the semaphore that caps argon2 work on public routes) before
 * anything is stored; kagi issues the login id at approval. Approval creates the firm, its
 * sealed signing key and its first staff member, who logs in with the application's
 * password (no change required); KMS down → 503 with nothing created. Pending applications
 * expire after 7 days.
 */
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AuditSink } from '../audit/audit-sink';
import { checkPasswordRules, Passwords } from '../auth/passwords';
import { actorOf, type Principal } from '../common/principal';
import { AppError, NotFoundError } from '../common/app-error';
import type { Page, PageQuery } from '../common/pagination';
import { NotificationsService } from '../notifications/notifications.service';
import type { OperatorDto } from './dto/operator.dto';
import { ApplicationsRepository, type ApplicationRow } from './applications.repository';
import { OperatorsService } from './operators.service';

const APPLICATION_TTL_SECONDS = 7 * 86_400;

export interface ApplicationView {
  id: string;
  firmName: string;
  email: string;
  status: 'pending' | 'approved' | 'rejected' | 'expired';
  createdAt: string;
}

const view = (r: ApplicationRow): ApplicationView => ({
  id: r.id,
  firmName: r.firm_name,
  email: r.email,
  status: r.expired ? 'expired' : r.status,
  createdAt: new Date(r.created_at).toISOString(),
});

@Injectable()
export class ApplicationsService {
  constructor(
    private readonly repo: ApplicationsRepository,
    private readonly operators: OperatorsService,
    private readonly passwords: Passwords,
    private readonly notifications: NotificationsService,
    private readonly audit: AuditSink,
  ) {}

  async apply(dto: { firmName: string; email: string; password: string }, requestId?: string): Promise<{ id: string; status: 'pending' }> {
    checkPasswordRules(dto.password, '');
    const passwordHash = await this.passwords.hash(dto.password);
    const id = randomUUID();
    await this.repo.insert({ id, firmName: dto.firmName, email: dto.email, passwordHash, ttlSeconds: APPLICATION_TTL_SECONDS });
    await this.audit.record({
      actor: { type: 'anonymous' },
      action: 'operator-application.create',
      subject: { type: 'operator-application', id },
      outcome: 'success',
      details: { firmName: dto.firmName, email: dto.email },
      requestId,
    });
    return { id, status: 'pending' };
  }

  list(q: PageQuery): Promise<Page<ApplicationView>> {
    return this.repo.page(q, view);
  }

  async approve(id: string, admin: Principal, requestId?: string): Promise<OperatorDto> {
    const a = await this.pending(id);
    const { operator } = await this.operators.createFirm(
      { name: a.firm_name, email: a.email, passwordHash: a.password_hash },
      admin,
      requestId,
      async (em, operatorId) => {
        if (!(await this.repo.decide(em, id, { status: 'approved', decidedBy: admin.id, operatorId })))
          throw new AppError('APPLICATION_NOT_PENDING', 'This application was already decided or has expired');
        await this.audit.record(
          {
            actor: actorOf(admin),
            operatorId,
            action: 'operator-application.approve',
            subject: { type: 'operator-application', id },
            outcome: 'success',
            requestId,
          },
          em,
        );
        await this.notifications.notify(em, {
          kind: 'operator-application.approved',
          operatorId,
          subject: 'Your application was approved',
          body: 'Your login id is shown in your operator profile and was sent to the e-mail address of the application.',
          mailOps: false,
        });
      },
    );
    return operator;
  }

  async reject(id: string, reason: string, admin: Principal, requestId?: string): Promise<ApplicationView> {
    await this.pending(id);
    const ok = await this.repo.decide(undefined, id, { status: 'rejected', decidedBy: admin.id, reason });
    if (!ok) throw new AppError('APPLICATION_NOT_PENDING', 'This application was already decided or has expired');
    await this.audit.record({
      actor: actorOf(admin),
      action: 'operator-application.reject',
      subject: { type: 'operator-application', id },
      outcome: 'success',
      details: { reason },
      requestId,
    });
    const row = await this.repo.byId(id);
    return view(row!);
  }

  private async pending(id: string): Promise<ApplicationRow> {
    const a = await this.repo.byId(id);
    if (!a) throw new NotFoundError('Application');
    if (a.status !== 'pending' || a.expired)
      throw new AppError('APPLICATION_NOT_PENDING', 'This application was already decided or has expired');
    return a;
  }
}
