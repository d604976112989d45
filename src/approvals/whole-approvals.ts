/**
 * Decisions on what waits for approval as a whole (a batch and its lots, an order and its
 * transactions): one path for both, so the four-eyes rules cannot drift between them. The item's
 * module says how to lock it, re-check it and release it; this file owns the order of steps:
 * who may decide (the transactions' rules, judged on the item's head transaction under the
 * item's row lock), the second factor, the pre-checks again at the last approval (chain reads
 * outside any database transaction: a 503 leaves nothing recorded; a refusal ends the item's
 * transactions `failed` with the pre-check's code), a conditional state change, and the audit
 * event naming the checker. Never opens a key: signing is the pipeline's, once rows are queued.
 */
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { AppError, NotFoundError } from '../common/app-error';
import { actorOf, requireFirm, type Principal } from '../common/principal';
import { AppConfig } from '../config/app-config';
import type { ApprovalGiven } from '../transactions/entities/transaction.entity';
import { TransactionHooks } from '../transactions/hooks';
import type { Problem, Transition } from '../transactions/pipeline/types';
import { TransactionQueue } from '../transactions/queue';
import { TransactionsService, type PendingRow } from '../transactions/transactions.service';
import { ApprovalsService, assertMayDecide } from './approvals.service';

/** What a batch or an order tells the shared decision about itself. */
export interface WholeItem<Checked> {
  type: 'batch' | 'order';
  /** The name in errors ("Batch", "Order"). */
  what: string;
  /**
   * Locks the firm's item in `em` (every decision on it goes through this lock) and returns its
   * transactions still pending approval, in the item's order; undefined when unknown or foreign.
   */
  lock(em: EntityManager, firm: string, id: string): Promise<{ status: string; pending: string[] } | undefined>;
  /** The pre-checks again, outside any transaction: a 4xx AppError refuses the item as a whole; a 503 leaves nothing recorded. */
  recheck(p: Principal, id: string): Promise<Checked>;
  /** The last approval, in `em` under the item's lock: confirm what was re-checked and release it (or end what became impossible). */
  release(
    em: EntityManager,
    id: string,
    given: readonly ApprovalGiven[],
    checked: Checked,
  ): Promise<{ queued: boolean } & Record<string, unknown>>;
  /** Ends the item and its pending transactions (rejected, expired, or failed as a whole at the last approval). */
  end(
    em: EntityManager,
    id: string,
    status: 'failed' | 'rejected' | 'expired',
    error: Problem,
    given?: readonly ApprovalGiven[],
  ): Promise<boolean>;
}

/** The last approval found the request impossible now: the pre-check's answer. */
export const isPrecheckRefusal = (e: unknown): e is AppError => e instanceof AppError && e.status < 500;

/** Another approval became the last meanwhile: decide again, with the re-check. */
class DecideAgain extends Error {}

@Injectable()
export class WholeApprovals implements OnModuleInit {
  constructor(
    private readonly transactions: TransactionsService,
    private readonly queue: TransactionQueue,
    private readonly hooks: TransactionHooks,
    private readonly approvals: ApprovalsService,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.hooks.onTransition((em, changed) => this.refuseLoneCancel(em, changed));
  }

  async approve<C>(
    item: WholeItem<C>,
    p: Principal,
    id: string,
    body: { otp?: string; comment?: string },
    requestId?: string,
  ): Promise<void> {
    const firm = requireFirm(p);
    let head = (await this.transactions.transaction((em) => this.decidable(em, item, p, firm, id, true))).head;
    await this.approvals.secondFactor(p, body.otp);
    for (let round = 0; round < 5; round++) {
      const last = head.approvalsGiven.length + 1 >= head.approvalsRequired;
      let checked: { ok: C } | { refused: Problem } | undefined;
      if (last)
        checked = await item.recheck(p, id).then(
          (ok) => ({ ok }),
          (e: unknown) => {
            if (isPrecheckRefusal(e)) return { refused: { code: e.code, message: e.detail } };
            throw e;
          },
        );
      try {
        const queued = await this.transactions.transaction(async (em) => {
          const { head: r, pending } = await this.decidable(em, item, p, firm, id, true);
          const given: ApprovalGiven[] = [
            ...r.approvalsGiven,
            { by: p.id, at: new Date().toISOString(), ...(body.comment ? { comment: body.comment } : {}) },
          ];
          let details: Record<string, unknown> = { approvals: given.length, required: r.approvalsRequired, queued: false };
          if (given.length < r.approvalsRequired) for (const tx of pending) await this.transactions.recordApprovals(em, tx, given);
          else if (!checked) throw new DecideAgain();
          else if ('refused' in checked) {
            await item.end(em, id, 'failed', checked.refused, given);
            details.failed = checked.refused;
          } else details = { ...details, ...(await item.release(em, id, given, checked.ok)) };
          await this.audit.record(
            {
              actor: actorOf(p),
              operatorId: firm,
              action: `${item.type}.approve`,
              subject: { type: item.type, id },
              outcome: 'success',
              details: { ...details, ...(body.comment ? { comment: body.comment } : {}) },
              requestId,
            },
            em,
          );
          return details.queued === true;
        });
        if (queued) this.queue.wake();
        this.transactions.wakeWaiters();
        return;
      } catch (e) {
        if (!(e instanceof DecideAgain)) throw e;
        head = (await this.transactions.transaction((em) => this.decidable(em, item, p, firm, id, true))).head;
      }
    }
    throw new AppError('INTERNAL', 'the approval could not be decided');
  }

  async reject<C>(item: WholeItem<C>, p: Principal, id: string, reason: string, requestId?: string): Promise<void> {
    const firm = requireFirm(p);
    await this.transactions.transaction(async (em) => {
      await this.decidable(em, item, p, firm, id, false);
      await item.end(em, id, 'rejected', { code: 'REJECTED', message: reason });
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId: firm,
          action: `${item.type}.reject`,
          subject: { type: item.type, id },
          outcome: 'success',
          details: { reason },
          requestId,
        },
        em,
      );
    });
    this.transactions.wakeWaiters();
  }

  /** Locks the item, then judges the decision on its head transaction by the transactions' rules (SELF_APPROVAL, NOT_PENDING, ALREADY_APPROVED). */
  private async decidable<C>(
    em: EntityManager,
    item: WholeItem<C>,
    p: Principal,
    firm: string,
    id: string,
    approving: boolean,
  ): Promise<{ head: PendingRow; pending: string[] }> {
    const locked = await item.lock(em, firm, id);
    if (!locked) throw new NotFoundError(item.what);
    const [first] = locked.pending;
    if (locked.status !== 'pending_approval' || !first)
      throw new AppError('NOT_PENDING', `The ${item.what.toLowerCase()} is ${locked.status}`);
    const head = await this.transactions.lockForApproval(em, first, firm, this.config.controls.approvalTtlSeconds);
    assertMayDecide(p, head, approving, item.what);
    return { head, pending: locked.pending };
  }

  /**
   * A batch's lot or an order's transaction waiting for approval is decided with its batch or
   * order, never cancelled alone (POST /v1/transactions/{id}/cancel would leave a half batch, or
   * an order that no longer runs whole): the cancel's database transaction is refused with 409
   * NOT_CANCELLABLE. Rows ended for their requester (a suspension, a revoked API key: they carry
   * an error) go through: every pending row of that requester ends together.
   */
  private async refuseLoneCancel(em: EntityManager, changed: readonly Transition[]): Promise<void> {
    const owned = changed.filter((t) => t.status === 'cancelled' && wholeOf(t));
    if (!owned.length) return;
    const ended = await this.queue.errorsOf(
      em,
      owned.map((t) => t.id),
    );
    for (const t of owned) {
      if (ended.has(t.id)) continue;
      const row = await this.transactions.lockForApproval(em, t.id, t.operatorId, this.config.controls.approvalTtlSeconds);
      // Released rows carry every approval they needed: a queued lot of a running batch may still be cancelled.
      if (!row || row.approvalsGiven.length >= row.approvalsRequired) continue;
      const { type, id } = wholeOf(t)!;
      throw new AppError(
        'NOT_CANCELLABLE',
        `This transaction belongs to ${type} ${id}, which waits for approval: it is decided with its ${type} (approved, rejected or expired as a whole), never cancelled alone`,
      );
    }
  }
}

/** The batch or order a transaction belongs to, when it was held with one. */
function wholeOf(t: Transition): { type: 'batch' | 'order'; id: string } | undefined {
  if (typeof t.request.batchId === 'string') return { type: 'batch', id: t.request.batchId };
  if (typeof t.request.orderId === 'string') return { type: 'order', id: t.request.orderId };
  return undefined;
}
