/**
 * Platform four eyes (API contract, "Governance and key lifecycle"): actions that hand out or
 * restore signing power — key rotations, emergency unpause, issuer grants, lowering the platform
 * floor — wait for a second admin when PLATFORM_FOUR_EYES is on. Other modules register a
 * handler per kind and call `request`; the handler runs once, in the database transaction of
 * the approval (or of the request, with four eyes off), so the action and its effect commit
 * together. Expiry (APPROVAL_TTL) is a job written with the action. Every admin is notified of
 * a pending action.
 */
import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { TotpService } from '../auth/totp.service';
import { AppError, NotFoundError } from '../common/app-error';
import { decodeCursor, encodeCursor, type Page, type PageQuery } from '../common/pagination';
import { actorOf, type Principal } from '../common/principal';
import { AppConfig } from '../config/app-config';
import { Jobs } from '../jobs/jobs.service';
import { NotificationsService } from '../notifications/notifications.service';
import { PlatformActionsRepository, type PlatformActionRow } from './platform-actions.repository';

const EXPIRE_JOB = 'platform-action.expire';

export interface PlatformActionHandlers {
  /** Runs the action (approved, or at once with four eyes off), in `em`; its answer is stored as the result. */
  run(em: EntityManager, action: PlatformActionRow): Promise<Record<string, unknown> | void>;
  /** The action ended without running (rejected or expired), in `em`. */
  dropped?(em: EntityManager, action: PlatformActionRow): Promise<void>;
}

export interface PlatformActionView {
  id: string;
  kind: string;
  status: string;
  requestedBy: string;
  approvedBy: string | null;
  subject: { type: string; id: string };
  reason: string | null;
  createdAt: string;
  decidedAt: string | null;
  expiresAt: string;
}

function toActionView(r: PlatformActionRow): PlatformActionView {
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    requestedBy: r.requested_by,
    approvedBy: r.approved_by,
    subject: { type: r.subject_type, id: r.subject_id },
    reason: r.reason,
    createdAt: new Date(r.created_at).toISOString(),
    decidedAt: r.decided_at ? new Date(r.decided_at).toISOString() : null,
    expiresAt: new Date(r.expires_at).toISOString(),
  };
}

export interface ActionRequest {
  kind: string;
  subject: { type: string; id: string };
  payload?: Record<string, unknown>;
}

/** The request's outcome: waiting for a second admin, or (four eyes off) already run. */
export type ActionOutcome =
  { action: PlatformActionRow; ran: false } | { action: PlatformActionRow; ran: true; result: Record<string, unknown> };

@Injectable()
export class PlatformActions implements OnModuleInit {
  private readonly handlers = new Map<string, PlatformActionHandlers>();

  constructor(
    private readonly repo: PlatformActionsRepository,
    private readonly jobs: Jobs,
    private readonly audit: AuditSink,
    private readonly notifications: NotificationsService,
    private readonly totp: TotpService,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobs.register<{ id: string }>(EXPIRE_JOB, (job) => this.expire(job.payload.id), { maxAttempts: 50 });
  }

  /** Registers what a kind does once approved (call in onModuleInit, before the job worker starts). */
  register(kind: string, handlers: PlatformActionHandlers): void {
    if (this.handlers.has(kind)) throw new Error(`platform action ${kind} registered twice`);
    this.handlers.set(kind, handlers);
  }

  get fourEyes(): boolean {
    return this.config.controls.platformFourEyes;
  }

  /**
   * Records the action in `em` (the caller's transaction). With four eyes off it runs at once;
   * otherwise it waits for another admin, and expires after APPROVAL_TTL.
   */
  async request(em: EntityManager, p: Principal, r: ActionRequest, requestId?: string): Promise<ActionOutcome> {
    if (p.type !== 'admin') throw new AppError('FORBIDDEN', 'Only platform admins request platform actions');
    const handlers = this.handlerOf(r.kind);
    const id = randomUUID();
    const waits = this.fourEyes;
    const action = await this.repo.insert(em, {
      id,
      kind: r.kind,
      status: waits ? 'pending_approval' : 'approved',
      subject_type: r.subject.type,
      subject_id: r.subject.id,
      payload: r.payload ?? {},
      requested_by: p.id,
      approvedBy: null,
      ttlSeconds: this.config.controls.approvalTtlSeconds,
    });
    await this.audit.record(
      {
        actor: actorOf(p),
        action: 'platform-action.request',
        subject: { type: 'platform-action', id },
        outcome: 'success',
        details: { kind: r.kind, subject: r.subject, fourEyes: waits },
        requestId,
      },
      em,
    );
    if (!waits) {
      const result = (await handlers.run(em, action)) ?? {};
      await this.repo.setResult(em, id, result);
      return { action: { ...action, result }, ran: true, result };
    }
    await this.jobs.enqueue(em, { type: EXPIRE_JOB, payload: { id }, runAt: new Date(action.expires_at) });
    await this.notifications.notify(em, {
      kind: 'platform-action.pending',
      operatorId: null,
      subject: `A platform action waits for a second admin: ${r.kind}`,
      body: `Action ${id} (${r.kind} of ${r.subject.type} ${r.subject.id}) was requested by admin ${p.loginId}; another admin approves or rejects it.`,
      mailOps: true,
    });
    return { action, ran: false };
  }

  async list(q: PageQuery): Promise<Page<PlatformActionView>> {
    const limit = q.limit ?? 20;
    const c = q.cursor ? decodeCursor(q.cursor) : undefined;
    const rows = await this.repo.page(limit + 1, c ? { createdAt: c.t, id: c.id } : undefined);
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map(toActionView),
      nextCursor: rows.length > limit && last ? encodeCursor(new Date(last.created_at), last.id) : null,
    };
  }

  async get(id: string): Promise<PlatformActionView> {
    const r = await this.repo.find(id);
    if (!r) throw new NotFoundError('Platform action');
    return toActionView(r);
  }

  async approve(id: string, p: Principal, otp: string | undefined, requestId?: string): Promise<PlatformActionView> {
    if (p.type !== 'admin') throw new AppError('FORBIDDEN', 'Only platform admins approve platform actions');
    await this.assertOtp(p, otp);
    const row = await this.repo.transaction(async (em) => {
      const a = await this.repo.lock(em, id);
      if (!a) throw new NotFoundError('Platform action');
      if (a.requested_by === p.id) throw new AppError('SELF_APPROVAL', 'Another admin must approve this action');
      if (a.status !== 'pending_approval' || new Date(a.expires_at) <= new Date())
        throw new AppError('NOT_PENDING', `The action is ${a.status === 'pending_approval' ? 'expired' : a.status}`);
      const result = (await this.handlerOf(a.kind).run(em, a)) ?? {};
      const done = await this.repo.decide(em, id, { status: 'approved', approvedBy: p.id, result });
      await this.audit.record(
        {
          actor: actorOf(p),
          action: 'platform-action.approve',
          subject: { type: 'platform-action', id },
          outcome: 'success',
          details: { kind: a.kind, subject: { type: a.subject_type, id: a.subject_id } },
          requestId,
        },
        em,
      );
      return done;
    });
    return toActionView(row);
  }

  async reject(id: string, p: Principal, reason: string, requestId?: string): Promise<PlatformActionView> {
    if (p.type !== 'admin') throw new AppError('FORBIDDEN', 'Only platform admins reject platform actions');
    const row = await this.repo.transaction(async (em) => {
      const a = await this.repo.lock(em, id);
      if (!a) throw new NotFoundError('Platform action');
      if (a.requested_by === p.id) throw new AppError('SELF_APPROVAL', 'Another admin must decide this action');
      if (a.status !== 'pending_approval') throw new AppError('NOT_PENDING', `The action is ${a.status}`);
      const done = await this.repo.decide(em, id, { status: 'rejected', approvedBy: p.id, reason });
      await this.handlerOf(a.kind).dropped?.(em, done);
      await this.audit.record(
        {
          actor: actorOf(p),
          action: 'platform-action.reject',
          subject: { type: 'platform-action', id },
          outcome: 'success',
          details: { kind: a.kind, reason },
          requestId,
        },
        em,
      );
      return done;
    });
    return toActionView(row);
  }

  /** The expiry job: a still pending action past its time ends `expired` (racing an approval: one outcome, under the row lock). */
  private async expire(id: string): Promise<void> {
    await this.repo.transaction(async (em) => {
      const a = await this.repo.lock(em, id);
      if (!a || a.status !== 'pending_approval') return;
      if (new Date(a.expires_at) > new Date()) throw new Error('platform action not due yet'); // retried by the job's backoff
      const done = await this.repo.decide(em, id, { status: 'expired' });
      await this.handlers.get(a.kind)?.dropped?.(em, done);
      await this.audit.record(
        { actor: { type: 'system' }, action: 'platform-action.expire', subject: { type: 'platform-action', id }, outcome: 'success' },
        em,
      );
    });
  }

  private handlerOf(kind: string): PlatformActionHandlers {
    const h = this.handlers.get(kind);
    if (!h) throw new Error(`no platform action handler for ${kind}`);
    return h;
  }

  private async assertOtp(p: Principal, otp: string | undefined): Promise<void> {
    if (!this.config.controls.requireMfaForApproval) return;
    if (!p.mfaEnabled) throw new AppError('MFA_NOT_ENABLED', 'Enrol TOTP first: approvals need a one-time code');
    if (!otp || !(await this.totp.check(p.id, otp))) throw new AppError('MFA_REQUIRED', 'A valid one-time code (otp) is required');
  }
}
