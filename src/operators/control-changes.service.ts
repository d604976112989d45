/**
 * Changes that weaken a firm's controls — granting `checker` or `firm-admin`, lowering its
 * policy — take effect when a second active firm-admin approves them, or, in a firm with a
 * single firm-admin, CONTROL_CHANGE_DELAY after a notice to that firm-admin and to the
 * platform ops. With one firm-admin and no delay (the default outside production) they
 * apply at once. Appliers are registered per kind (`grant-roles` here; the approvals
 * module registers policy changes), so this service never knows another module's tables.
 */
import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { actorOf, firmOf, type FirmRole, type Principal } from '../common/principal';
import { AppError, NotFoundError } from '../common/app-error';
import { firstLine } from '../common/logging';
import type { Page, PageQuery } from '../common/pagination';
import { AppConfig } from '../config/app-config';
import { NotificationsService } from '../notifications/notifications.service';
import { ControlChangesRepository, type ControlChangeRow } from './control-changes.repository';
import { StaffRepository } from './staff.repository';

export type ControlChangeApplier = (em: EntityManager, change: ControlChangeRow) => Promise<void>;

export interface ControlChangeView {
  id: string;
  kind: string;
  targetStaffId: string | null;
  payload: Record<string, unknown>;
  requestedBy: string;
  status: string;
  effectiveAt: string | null;
  approvedBy: string | null;
  appliedAt: string | null;
  createdAt: string;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

function view(r: ControlChangeRow): ControlChangeView {
  return {
    id: r.id,
    kind: r.kind,
    targetStaffId: r.target_staff_id,
    payload: r.payload,
    requestedBy: r.requested_by,
    status: r.status,
    effectiveAt: iso(r.effective_at),
    approvedBy: r.approved_by,
    appliedAt: iso(r.applied_at),
    createdAt: new Date(r.created_at).toISOString(),
  };
}

const SWEEP_MS = 5000;

@Injectable()
export class ControlChangesService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ControlChanges');
  private readonly appliers = new Map<string, ControlChangeApplier>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly repo: ControlChangesRepository,
    private readonly staff: StaffRepository,
    private readonly notifications: NotificationsService,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
  ) {
    this.register('grant-roles', async (em, c) => {
      if (c.target_staff_id) await this.staff.addRoles(em, c.target_staff_id, (c.payload.roles ?? []) as FirmRole[]);
    });
  }

  register(kind: string, applier: ControlChangeApplier): void {
    this.appliers.set(kind, applier);
  }

  onModuleInit(): void {
    if (this.config.offline) return;
    this.timer = setInterval(() => void this.applyDue(), SWEEP_MS).unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Requests a change inside the caller's transaction (the firm is locked by the caller).
   * Returns undefined when it took effect at once (single firm-admin, no delay).
   */
  async request(
    em: EntityManager,
    p: Principal,
    c: { operatorId: string; kind: string; targetStaffId: string | null; payload: Record<string, unknown> },
    requestId?: string,
  ): Promise<{ changeId: string; effectiveAt: string | null } | undefined> {
    const applier = this.appliers.get(c.kind);
    if (!applier) throw new Error(`no applier for control change ${c.kind}`);
    const others = await this.staff.otherActiveFirmAdmins(em, c.operatorId, p.via === 'api-key' ? undefined : p.id);
    const delay = this.config.controls.controlChangeDelaySeconds;
    const id = randomUUID();
    const immediate = others.length === 0 && delay === 0;
    const effectiveAt = others.length === 0 ? new Date(Date.now() + delay * 1000) : null;
    await this.repo.insert(em, { id, ...c, requestedBy: p.id, effectiveAt });
    const base = { actor: actorOf(p), operatorId: c.operatorId, subject: { type: 'control-change', id }, requestId };
    await this.audit.record({ ...base, action: 'control-change.request', outcome: 'success', details: { kind: c.kind, ...c.payload } }, em);
    if (immediate) {
      await applier(em, {
        id,
        operator_id: c.operatorId,
        kind: c.kind,
        target_staff_id: c.targetStaffId,
        payload: c.payload,
      } as ControlChangeRow);
      await this.repo.markApplied(em, id, null);
      await this.audit.record({ ...base, action: 'control-change.apply', outcome: 'success', details: { kind: c.kind } }, em);
      return undefined;
    }
    await this.notifications.notify(em, {
      kind: 'control-change',
      operatorId: c.operatorId,
      subject: `A control change (${c.kind}) is pending`,
      body: effectiveAt
        ? `It takes effect at ${effectiveAt.toISOString()} unless cancelled.`
        : 'It takes effect when a second firm-admin approves it.',
      mailOps: effectiveAt !== null,
    });
    return { changeId: id, effectiveAt: effectiveAt?.toISOString() ?? null };
  }

  async approve(operatorId: string, changeId: string, p: Principal, requestId?: string): Promise<ControlChangeView> {
    if (firmOf(p) !== operatorId) throw new NotFoundError('Control change');
    return this.repo.transaction(async (em) => {
      const c = await this.repo.lockPending(em, operatorId, changeId);
      if (!c) {
        if (await this.repo.exists(operatorId, changeId)) throw new AppError('NOT_PENDING', 'This control change is not pending');
        throw new NotFoundError('Control change');
      }
      if (c.requested_by === p.id) throw new AppError('FORBIDDEN', 'A second firm-admin must approve this change');
      await this.apply(em, c, p.id);
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId,
          action: 'control-change.approve',
          subject: { type: 'control-change', id: c.id },
          outcome: 'success',
          details: { kind: c.kind },
          requestId,
        },
        em,
      );
      return view({ ...c, status: 'applied', approved_by: p.id, applied_at: new Date() });
    });
  }

  list(operatorId: string, p: Principal, q: PageQuery): Promise<Page<ControlChangeView>> {
    if (p.type === 'operator' && firmOf(p) !== operatorId) throw new NotFoundError('Operator');
    return this.repo.page(operatorId, q, view);
  }

  cancelForStaff(em: EntityManager, staffId: string): Promise<void> {
    return this.repo.cancelForStaff(em, staffId);
  }

  /** Applies delayed changes whose time has come (any instance; rows locked with SKIP LOCKED). */
  async applyDue(): Promise<number> {
    try {
      return await this.repo.transaction(async (em) => {
        const due = await this.repo.lockDue(em, 50);
        for (const c of due) {
          await this.apply(em, c, null);
          await this.audit.record(
            {
              actor: { type: 'system' },
              operatorId: c.operator_id,
              action: 'control-change.apply',
              subject: { type: 'control-change', id: c.id },
              outcome: 'success',
              details: { kind: c.kind },
            },
            em,
          );
        }
        return due.length;
      });
    } catch (e) {
      this.logger.warn(`control changes not applied: ${firstLine(e)}`);
      return 0;
    }
  }

  private async apply(em: EntityManager, c: ControlChangeRow, approvedBy: string | null): Promise<void> {
    const applier = this.appliers.get(c.kind);
    if (!applier) throw new Error(`no applier for control change ${c.kind}`);
    await applier(em, c);
    await this.repo.markApplied(em, c.id, approvedBy);
  }
}
