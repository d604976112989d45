/**
 * Four eyes on what a policy holds back: approve, reject and expire `pending_approval`
 * transactions. Every decision is a conditional state transition under the row's lock, so
 * concurrent approvals (or an approval racing the expiry) give exactly one outcome and at most
 * one queued transaction. The last approval re-runs the request's pre-checks first (chain reads
 * outside the transaction): impossible now → the transaction ends `failed` with the pre-check's
 * code; chain unreadable → 503 and nothing recorded. Never opens a key: signing is the
 * pipeline's, once the row is queued.
 */
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { AuditSink } from '../audit/audit-sink';
import { AppError, NotFoundError } from '../common/app-error';
import type { Page, PageQuery } from '../common/pagination';
import { actorOf, requireFirm, type Principal } from '../common/principal';
import { AppConfig } from '../config/app-config';
import { TotpService } from '../auth/totp.service';
import { Jobs } from '../jobs/jobs.service';
import type { TransactionResponse } from '../transactions/dto/transaction.response';
import type { ApprovalGiven } from '../transactions/entities/transaction.entity';
import type { Problem } from '../transactions/pipeline/types';
import { TransactionQueue } from '../transactions/queue';
import { TransactionsService, type PendingRow } from '../transactions/transactions.service';
import { EXPIRE_JOB } from './approval-policy';
import { ApprovalItems } from './approval-items';
import { ApprovalRechecks, type Recheck } from './rechecks';

export type ApprovalType = 'transaction' | 'batch' | 'order';
export interface ApprovalItem {
  type: ApprovalType;
  /** A Transaction, Batch or Order. */
  item: unknown;
}

/**
 * Who may decide on a pending row (a transaction, or the head lot of a batch): throws 404, SELF_APPROVAL,
 * NOT_PENDING or ALREADY_APPROVED. Batches and orders decide through the same rules.
 */
export function assertMayDecide(
  p: Principal,
  r: PendingRow | undefined,
  approving: boolean,
  what = 'Transaction',
): asserts r is PendingRow {
  if (!r) throw new NotFoundError(what);
  if (approving && requestedBy(p, r))
    throw new AppError('SELF_APPROVAL', 'Nobody approves their own request (or one made through an API key they own)');
  if (r.status !== 'pending_approval' || r.overdue)
    throw new AppError('NOT_PENDING', `The ${what.toLowerCase()} is ${r.overdue ? 'expired' : r.status}`);
  if (approving && r.approvalsGiven.some((a) => a.by === p.id)) throw new AppError('ALREADY_APPROVED', 'This checker already approved it');
}

/** The requester, or the owner of the API key that made the request (rows from before requested_by: the firm's v1 id). */
function requestedBy(p: Principal, row: PendingRow): boolean {
  const by = row.requestedBy;
  if (!by) return row.operatorId === p.id;
  if (by.type === 'staff') return by.id === p.id;
  if (by.type === 'api-key') return by.ownerStaffId === p.id;
  return false;
}

/** The last approval found the request impossible now: the pre-check's answer. */
const isPrecheckRefusal = (e: unknown): e is AppError => e instanceof AppError && e.status < 500;

/** Another approval became the last meanwhile: decide again, with the re-check. */
class DecideAgain extends Error {}

@Injectable()
export class ApprovalsService implements OnModuleInit {
  constructor(
    private readonly transactions: TransactionsService,
    private readonly queue: TransactionQueue,
    private readonly rechecks: ApprovalRechecks,
    private readonly items: ApprovalItems,
    private readonly totp: TotpService,
    private readonly audit: AuditSink,
    private readonly jobs: Jobs,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobs.register<{ type: ApprovalType; id: string; firmId: string }>(EXPIRE_JOB, async (job) => {
      const { type, id, firmId } = job.payload;
      const other = type === 'transaction' ? undefined : this.items.get(type);
      if (type !== 'transaction' && !other) throw new Error(`no expiry registered for ${type}`);
      // An order's operation was accepted as a transaction (with an expiry of its own) before the
      // order held it: it expires with its order, under the order's lock, never alone (an
      // approval of the order racing it would otherwise queue the order in part).
      if (type === 'transaction' && (await this.belongsToWhole(firmId, id))) return;
      await this.transactions.transaction(async (em) => {
        const expired = other ? await other.expire(em, id) : await this.transactions.endPending(em, id, 'expired', null);
        if (expired)
          await this.audit.record(
            {
              actor: { type: 'system' },
              operatorId: firmId,
              action: `${type}.expire`,
              subject: { type, id },
              outcome: 'success',
              details: { approvalTtlSeconds: this.config.controls.approvalTtlSeconds },
            },
            em,
          );
        await job.completeWith(em);
      });
      this.transactions.wakeWaiters();
    });
  }

  /** The transaction is a lot of a batch or an operation of an order (decided, and expiring, with it). */
  private async belongsToWhole(firmId: string, id: string): Promise<boolean> {
    const firm: Principal = { type: 'operator', id: firmId, loginId: '', operatorId: firmId };
    const tx = await this.transactions.get(firm, id).catch((e: unknown) => {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    });
    return !!tx && (tx.batchId !== null || typeof tx.request.batchId === 'string' || typeof tx.request.orderId === 'string');
  }

  /** What waits for the checker's firm (batches and orders once their modules register them; without `type`: transactions). */
  async list(p: Principal, q: PageQuery & { type?: ApprovalType }): Promise<Page<ApprovalItem>> {
    if (q.type && q.type !== 'transaction') {
      const type = q.type;
      const page = (await this.items.get(type)?.pending(p, { limit: q.limit, cursor: q.cursor })) ?? { items: [], nextCursor: null };
      return { items: page.items.map((item) => ({ type, item })), nextCursor: page.nextCursor };
    }
    const page = await this.transactions.list(p, { limit: q.limit, cursor: q.cursor, status: 'pending_approval' });
    return { items: page.items.map((item) => ({ type: 'transaction' as const, item })), nextCursor: page.nextCursor };
  }

  async approve(p: Principal, id: string, body: { otp?: string; comment?: string }, requestId?: string): Promise<TransactionResponse> {
    const firm = requireFirm(p);
    const ttl = this.config.controls.approvalTtlSeconds;
    const first = await this.transactions.transaction((em) => this.transactions.lockForApproval(em, id, firm, ttl));
    this.assertMayDecide(p, first, true);
    await this.secondFactor(p, body.otp);
    let row = first;
    for (let round = 0; round < 5; round++) {
      const last = row.approvalsGiven.length + 1 >= row.approvalsRequired;
      // Chain reads outside the transaction; a 503 from them leaves nothing recorded.
      let recheck: Recheck | Problem | undefined;
      if (last)
        recheck = await this.rechecks.run(row).catch((e: unknown) => {
          if (isPrecheckRefusal(e)) return { code: e.code, message: e.message };
          throw e;
        });
      try {
        const queued = await this.transactions.transaction(async (em) => {
          const r = await this.transactions.lockForApproval(em, id, firm, ttl);
          this.assertMayDecide(p, r, true);
          const given: ApprovalGiven[] = [
            ...r.approvalsGiven,
            { by: p.id, at: new Date().toISOString(), ...(body.comment ? { comment: body.comment } : {}) },
          ];
          const details: Record<string, unknown> = { approvals: given.length, required: r.approvalsRequired };
          let queued = false;
          if (given.length < r.approvalsRequired) await this.transactions.recordApprovals(em, id, given);
          else if (!recheck) throw new DecideAgain();
          else {
            let problem: Problem | undefined = 'code' in recheck ? recheck : undefined;
            if (!problem && 'confirm' in recheck)
              problem = await recheck.confirm(em).then(
                () => undefined,
                (e: unknown) => {
                  if (isPrecheckRefusal(e)) return { code: e.code, message: e.message };
                  throw e;
                },
              );
            if (problem) {
              await this.transactions.endPending(em, id, 'failed', problem, given);
              details.failed = problem;
            } else {
              const ok = recheck as Recheck;
              queued = await this.transactions.releaseApproved(em, id, given, {
                args: ok.args,
                debitAddress: ok.debit?.address ?? null,
                debitAmount: ok.debit ? ok.debit.amount.toString() : null,
              });
              details.queued = queued;
            }
          }
          await this.audit.record(
            {
              actor: actorOf(p),
              operatorId: firm,
              action: 'transaction.approve',
              subject: { type: 'transaction', id },
              outcome: 'success',
              details: { ...details, ...(body.comment ? { comment: body.comment } : {}) },
              requestId,
            },
            em,
          );
          return queued;
        });
        if (queued) this.queue.wake();
        this.transactions.wakeWaiters();
        return this.transactions.get(p, id);
      } catch (e) {
        if (!(e instanceof DecideAgain)) throw e;
        row = (await this.transactions.transaction((em) => this.transactions.lockForApproval(em, id, firm, ttl)))!;
        this.assertMayDecide(p, row, true);
      }
    }
    throw new AppError('INTERNAL', 'the approval could not be decided');
  }

  async reject(p: Principal, id: string, reason: string, requestId?: string): Promise<TransactionResponse> {
    const firm = requireFirm(p);
    await this.transactions.transaction(async (em) => {
      const r = await this.transactions.lockForApproval(em, id, firm, this.config.controls.approvalTtlSeconds);
      this.assertMayDecide(p, r, false);
      await this.transactions.endPending(em, id, 'rejected', { code: 'REJECTED', message: reason });
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId: firm,
          action: 'transaction.reject',
          subject: { type: 'transaction', id },
          outcome: 'success',
          details: { reason },
          requestId,
        },
        em,
      );
    });
    this.transactions.wakeWaiters();
    return this.transactions.get(p, id);
  }

  private assertMayDecide(p: Principal, r: PendingRow | undefined, approving: boolean): asserts r is PendingRow {
    assertMayDecide(p, r, approving);
    // A batch's lots and an order's transactions are decided through the batch or the order, as a whole.
    if (typeof r.request.batchId === 'string') throw new AppError('NOT_PENDING', 'This transaction is decided through its batch');
    if (typeof r.request.orderId === 'string') throw new AppError('NOT_PENDING', 'This transaction is decided through its order');
  }

  /** REQUIRE_MFA_FOR_APPROVAL: a fresh one-time code with each approval (each 30-s step is accepted once). */
  async secondFactor(p: Principal, otp: string | undefined): Promise<void> {
    if (!this.config.controls.requireMfaForApproval) return;
    if (!p.mfaEnabled) throw new AppError('MFA_NOT_ENABLED', 'Enrol TOTP first (POST /v1/auth/mfa/totp): approvals need a one-time code');
    if (!otp) throw new AppError('MFA_REQUIRED', 'An approval needs a current one-time code (otp)');
    if (!(await this.totp.check(p.id, otp))) throw new AppError('MFA_REQUIRED', 'The one-time code is not valid (or was already used)');
  }
}
