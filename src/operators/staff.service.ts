/**
 * A firm's staff: its firm-admins add members (with a one-time activation code, 24 h,
 * stored hashed; in production only e-mailed), change their roles, suspend and resume
 * them, and reset their TOTP. Granting checker or firm-admin goes through a control change.
 * The last active firm-admin cannot be suspended or demoted: checked with the firm's row
 * locked, so two firm-admins cannot remove each other at once. Suspension revokes the
 * member's tokens at once.
 */
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { AuthService, newActivationCode } from '../auth/auth.service';
import { actorOf, firmOf, type FirmRole, type Principal } from '../common/principal';
import { AppError, NotFoundError } from '../common/app-error';
import type { Page, PageQuery } from '../common/pagination';
import { AppConfig } from '../config/app-config';
import { NotificationsService } from '../notifications/notifications.service';
import { PersonalMail } from '../notifications/personal-mail';
import { ControlChangesService } from './control-changes.service';
import type { CreateStaffDto, StaffDto, UpdateStaffDto } from './dto/staff.dto';
import { OperatorsRepository } from './operators.repository';
import { StaffRepository, type StaffRow } from './staff.repository';

/** Roles whose grant weakens a firm's controls. */
const CONTROL_ROLES: readonly FirmRole[] = ['checker', 'firm-admin'];

export type StaffCreated = { staff: StaffDto; activationCode?: string; changeId?: string; effectiveAt?: string | null };
export type StaffUpdated = StaffDto | { changeId: string; effectiveAt: string | null; staff: StaffDto };

/** Listeners told when a member is suspended (the transactions module cancels its pending and queued requests). */
export abstract class StaffSuspensionListener {
  abstract onSuspended(em: EntityManager, operatorId: string, staffId: string): Promise<void>;
}

@Injectable()
export class StaffService {
  private readonly listeners: StaffSuspensionListener[] = [];

  constructor(
    private readonly staff: StaffRepository,
    private readonly operators: OperatorsRepository,
    private readonly auth: AuthService,
    private readonly changes: ControlChangesService,
    private readonly notifications: NotificationsService,
    private readonly mail: PersonalMail,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
  ) {}

  onSuspension(listener: StaffSuspensionListener): void {
    this.listeners.push(listener);
  }

  async list(operatorId: string, p: Principal, q: PageQuery): Promise<Page<StaffDto>> {
    this.assertOwnFirm(operatorId, p);
    const page = await this.staff.page(operatorId, q, (r) => r);
    return { items: await this.toDtos(page.items), nextCursor: page.nextCursor };
  }

  async create(operatorId: string, p: Principal, dto: CreateStaffDto, requestId?: string): Promise<StaffCreated> {
    this.assertOwnFirm(operatorId, p);
    const id = randomUUID();
    const roles = [...new Set(dto.roles)];
    const controlled = roles.filter((r) => CONTROL_ROLES.includes(r));
    const activation = newActivationCode();
    const passwordHash = await this.auth.unusablePasswordHash();
    const change = await this.operators.transaction(async (em) => {
      if (!(await this.operators.lock(em, operatorId))) throw new NotFoundError('Operator');
      await this.auth.insertPrincipal(em, {
        id,
        type: 'operator',
        loginId: dto.loginId,
        name: dto.name,
        passwordHash,
        activation: { codeHash: activation.hash, expiresAt: activation.expiresAt },
      });
      // The member exists at once; checker/firm-admin come with the control change.
      await this.staff.insert(em, { id, operatorId, email: dto.email, roles: roles.filter((r) => !controlled.includes(r)) });
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId,
          action: 'staff.create',
          subject: { type: 'staff', id },
          outcome: 'success',
          details: { loginId: dto.loginId, roles },
          requestId,
        },
        em,
      );
      await this.notifications.notify(em, {
        kind: 'staff.activation',
        operatorId,
        subject: 'A new staff member was added',
        body: `Login id ${dto.loginId} activates with a one-time code sent to the member's e-mail address (valid 24 hours).`,
        mailOps: false,
      });
      await this.mail.send(em, {
        to: dto.email,
        subject: '[kagi] ログインの有効化 / Activate your kagi login',
        body: [
          `Login id: ${dto.loginId}`,
          'Activation code (one-time, valid for 24 hours): {{secret}}',
          'Activate at POST /v1/auth/activate with your login id, this code and a new password.',
        ].join('\n'),
        secret: activation.code,
      });
      return controlled.length
        ? this.changes.request(em, p, { operatorId, kind: 'grant-roles', targetStaffId: id, payload: { roles: controlled } }, requestId)
        : undefined;
    });
    const staff = await this.one(operatorId, id);
    const code = this.config.isProduction ? {} : { activationCode: activation.code };
    return change ? { staff, ...code, ...change } : { staff, ...code };
  }

  async update(operatorId: string, staffId: string, p: Principal, dto: UpdateStaffDto, requestId?: string): Promise<StaffUpdated> {
    this.assertOwnFirm(operatorId, p);
    const change = await this.operators.transaction(async (em) => {
      if (!(await this.operators.lock(em, operatorId))) throw new NotFoundError('Operator');
      const target = await this.staff.byId(operatorId, staffId, em);
      if (!target) throw new NotFoundError('Staff member');
      const roles = dto.roles ? [...new Set(dto.roles)] : target.roles;
      const granted = roles.filter((r) => CONTROL_ROLES.includes(r) && !target.roles.includes(r));
      const immediateRoles = roles.filter((r) => !granted.includes(r));
      const status = dto.status ?? target.status;
      const losesAdmin =
        target.status === 'active' && target.roles.includes('firm-admin') && (status !== 'active' || !roles.includes('firm-admin'));
      if (losesAdmin && (await this.staff.otherActiveFirmAdmins(em, operatorId, staffId)).length === 0)
        throw new AppError('LAST_FIRM_ADMIN', "The firm's last active firm-admin cannot be suspended or demoted");
      await this.staff.update(em, staffId, { roles: immediateRoles, status });
      if (status === 'suspended' && target.status !== 'suspended') {
        await this.auth.revokeAll(em, staffId);
        await this.changes.cancelForStaff(em, staffId);
        for (const l of this.listeners) await l.onSuspended(em, operatorId, staffId);
      }
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId,
          action: status !== target.status ? (status === 'suspended' ? 'staff.suspend' : 'staff.resume') : 'staff.update',
          subject: { type: 'staff', id: staffId },
          outcome: 'success',
          details: { roles: immediateRoles, status, ...(granted.length ? { pendingRoles: granted } : {}) },
          requestId,
        },
        em,
      );
      return granted.length
        ? this.changes.request(em, p, { operatorId, kind: 'grant-roles', targetStaffId: staffId, payload: { roles: granted } }, requestId)
        : undefined;
    });
    const staff = await this.one(operatorId, staffId);
    return change ? { ...change, staff } : staff;
  }

  async resetMfa(operatorId: string, staffId: string, p: Principal, requestId?: string): Promise<void> {
    this.assertOwnFirm(operatorId, p);
    if (!(await this.staff.byId(operatorId, staffId))) throw new NotFoundError('Staff member');
    await this.operators.transaction(async (em) => {
      await this.auth.resetTotp(em, staffId);
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId,
          action: 'staff.mfa-reset',
          subject: { type: 'staff', id: staffId },
          outcome: 'success',
          requestId,
        },
        em,
      );
      await this.notifications.notify(em, {
        kind: 'staff.mfa-reset',
        operatorId,
        subject: 'A staff member’s TOTP was reset',
        body: `The second factor of staff member ${staffId} was reset by a firm-admin; the member enrols again at next login.`,
        mailOps: false,
      });
    });
  }

  /** Admins see every firm; staff only their own (another firm's ids: 404). */
  private assertOwnFirm(operatorId: string, p: Principal): void {
    if (p.type === 'operator' && firmOf(p) !== operatorId) throw new NotFoundError('Operator');
  }

  private async one(operatorId: string, staffId: string): Promise<StaffDto> {
    const row = await this.staff.byId(operatorId, staffId);
    if (!row) throw new NotFoundError('Staff member');
    const [dto] = await this.toDtos([row]);
    return dto!;
  }

  private async toDtos(rows: StaffRow[]): Promise<StaffDto[]> {
    const facts = await this.auth.facts(rows.map((r) => r.id));
    return rows.map((r) => {
      const f = facts.get(r.id);
      return {
        id: r.id,
        operatorId: r.operator_id,
        loginId: f?.loginId ?? '',
        name: f?.name ?? '',
        email: r.email,
        roles: r.roles,
        status: r.status,
        mfaEnabled: f?.mfaEnabled ?? false,
        mustChangePassword: f?.mustChangePassword ?? false,
        createdAt: new Date(r.created_at).toISOString(),
      };
    });
  }
}
