/**
 * Orders (¶0057): one request of operations on several tokens. Every operation is validated and
 * pre-checked first, through the operation catalogue as if it came alone; then all are written in
 * ONE database transaction, where each operation's debit is re-checked under its (token, address)
 * lock against everything accepted before it — this order's earlier operations included — so
 * debits add up across the order. Any refusal: 422 BATCH_INVALID listing each operation, nothing
 * queued. Each transaction keeps its own token's signer (the firm key or the issuer key).
 */
import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { ApprovalItems } from '../approvals/approval-items';
import { ApprovalPolicy } from '../approvals/approval-policy';
import { ApprovalsService, assertMayDecide } from '../approvals/approvals.service';
import { AuditSink } from '../audit/audit-sink';
import { AppError, NotFoundError } from '../common/app-error';
import type { Prepared } from '../common/idempotency/idempotency';
import type { Page, PageQuery } from '../common/pagination';
import { actorOf, firmOf, requireFirm, type Principal } from '../common/principal';
import { AppConfig } from '../config/app-config';
import type { ApprovalGiven } from '../transactions/entities/transaction.entity';
import { TransactionQueue } from '../transactions/queue';
import { createValidationPipe } from '../common/validation';
import { OPERATION_BY_KIND } from '../tokens/operations/catalogue';
import { TokenOperations } from '../tokens/operations/operations.service';
import type { TransactionResponse } from '../transactions/dto/transaction.response';
import { TransactionsService } from '../transactions/transactions.service';
import type { RowProblem } from '../batches/batch-rows';
import { BatchInvalidError } from '../batches/batches.service';
import type { OrderResponse } from './dto/order.dto';
import { OrdersRepository } from './orders.repository';

const pipe = createValidationPipe();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function problemOf(row: number, e: unknown, field = 'operation'): RowProblem {
  if (!(e instanceof AppError)) throw e;
  return { row, field: e.options.errors?.[0]?.field ?? field, code: e.code, message: e.options.errors?.[0]?.message ?? e.detail };
}

@Injectable()
export class OrdersService implements OnModuleInit {
  constructor(
    private readonly repo: OrdersRepository,
    private readonly operations: TokenOperations,
    private readonly transactions: TransactionsService,
    private readonly queue: TransactionQueue,
    private readonly policy: ApprovalPolicy,
    private readonly approvalItems: ApprovalItems,
    private readonly approvals: ApprovalsService,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.approvalItems.register('order', {
      expire: (em, id) => this.end(em, id, null, 'expired', { code: 'EXPIRED', message: 'the order was not approved in time' }),
      pending: (p, q) => this.pending(p, q),
    });
  }

  async prepare(p: Principal, ops: ReadonlyArray<Record<string, unknown>>): Promise<Prepared<OrderResponse>> {
    const firm = requireFirm(p);
    const problems: RowProblem[] = [];
    const prepared = await Promise.all(
      ops.map(async (op, i) => {
        const row = i + 1;
        const { tokenId, kind, ...body } = op;
        const spec = typeof kind === 'string' ? OPERATION_BY_KIND.get(kind) : undefined;
        if (!spec) return void problems.push({ row, field: 'kind', code: 'VALIDATION_FAILED', message: 'kind is not an operation kind' });
        if (typeof tokenId !== 'string' || !UUID.test(tokenId))
          return void problems.push({ row, field: 'tokenId', code: 'VALIDATION_FAILED', message: 'tokenId must be a UUID' });
        try {
          const dto = (await pipe.transform(body, { type: 'body', metatype: spec.body })) as object;
          return await this.operations.prepare(p, tokenId.toLowerCase(), spec.kind, { ...dto });
        } catch (e) {
          problems.push(problemOf(row, e));
          return undefined;
        }
      }),
    );
    if (problems.length) throw new BatchInvalidError(problems.sort((a, b) => a.row - b.row));
    return {
      write: async (em) => {
        const ids: string[] = [];
        let required = 0;
        const refused: RowProblem[] = [];
        for (const [i, prep] of prepared.entries()) {
          try {
            const tx = await prep!.write(em);
            ids.push(tx.id);
            required = Math.max(required, tx.value?.approvals.required ?? 0);
          } catch (e) {
            refused.push(problemOf(i + 1, e));
          }
        }
        if (refused.length) throw new BatchInvalidError(refused);
        const id = randomUUID();
        await this.repo.insert(em, { id, operatorId: firm, transactionIds: ids });
        // Needing approval anywhere, the order waits whole (before commit: nothing was signed).
        if (required) {
          await this.repo.hold(em, id, ids, required);
          await this.policy.awaitApproval(em, { type: 'order', id, firmId: firm });
        }
        return { id };
      },
    };
  }

  async get(p: Principal, id: string): Promise<OrderResponse> {
    const o = await this.repo.find(id, firmOf(p));
    if (!o) throw new NotFoundError('Order');
    const txs: TransactionResponse[] = await Promise.all(o.transactionIds.map((t) => this.transactions.get(p, t)));
    const final = (s: string) => ['confirmed', 'failed', 'cancelled', 'rejected', 'expired'].includes(s);
    const status = txs.some((t) => t.status === 'pending_approval')
      ? 'pending_approval'
      : txs.every((t) => t.status === 'rejected' || t.status === 'expired')
        ? txs[0]!.status
        : !txs.every((t) => final(t.status))
          ? 'running'
          : txs.every((t) => t.status === 'confirmed')
            ? 'completed'
            : 'partially_failed';
    return { id: o.id, status, transactions: txs, createdAt: o.createdAt.toISOString() };
  }

  // ---- approvals ------------------------------------------------------------------------
  // An order is decided as a whole under its row lock: its transactions carry the approvals
  // (required, given) and move together; the transactions' rules decide who may.

  async approve(p: Principal, id: string, body: { otp?: string; comment?: string }, requestId?: string): Promise<OrderResponse> {
    const firm = requireFirm(p);
    await this.transactions.transaction(async (em) => this.mayDecide(em, p, id, firm, true));
    await this.approvals.secondFactor(p, body.otp);
    const queued = await this.transactions.transaction(async (em) => {
      const { head, txIds } = await this.mayDecide(em, p, id, firm, true);
      const given: ApprovalGiven[] = [
        ...head.approvalsGiven,
        { by: p.id, at: new Date().toISOString(), ...(body.comment ? { comment: body.comment } : {}) },
      ];
      const calls = await this.repo.pendingCalls(em, txIds);
      const last = given.length >= head.approvalsRequired;
      for (const c of calls)
        if (last)
          await this.transactions.releaseApproved(em, c.id, given, {
            args: c.args,
            debitAddress: c.debitAddress,
            debitAmount: c.debitAmount,
          });
        else await this.transactions.recordApprovals(em, c.id, given);
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId: firm,
          action: 'order.approve',
          subject: { type: 'order', id },
          outcome: 'success',
          details: {
            approvals: given.length,
            required: head.approvalsRequired,
            queued: last,
            ...(body.comment ? { comment: body.comment } : {}),
          },
          requestId,
        },
        em,
      );
      return last;
    });
    if (queued) this.queue.wake();
    this.transactions.wakeWaiters();
    return this.get(p, id);
  }

  async reject(p: Principal, id: string, reason: string, requestId?: string): Promise<OrderResponse> {
    const firm = requireFirm(p);
    await this.transactions.transaction(async (em) => {
      await this.mayDecide(em, p, id, firm, false);
      await this.end(em, id, firm, 'rejected', { code: 'REJECTED', message: reason });
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId: firm,
          action: 'order.reject',
          subject: { type: 'order', id },
          outcome: 'success',
          details: { reason },
          requestId,
        },
        em,
      );
    });
    this.transactions.wakeWaiters();
    return this.get(p, id);
  }

  /** Locks the order, then judges the decision on its first pending transaction by the transactions' rules. */
  private async mayDecide(em: EntityManager, p: Principal, id: string, firm: string, approving: boolean) {
    const o = await this.repo.lock(em, id, firm);
    if (!o) throw new NotFoundError('Order');
    const [first] = await this.repo.pendingCalls(em, o.transactionIds);
    if (!first) throw new AppError('NOT_PENDING', 'The order is not pending approval');
    const head = await this.transactions.lockForApproval(em, first.id, firm, this.config.controls.approvalTtlSeconds);
    assertMayDecide(p, head, approving, 'Order');
    return { head, txIds: o.transactionIds };
  }

  /** Ends every pending transaction of an order (rejected or expired); false when none was pending. */
  private async end(
    em: EntityManager,
    id: string,
    firm: string | null,
    status: 'rejected' | 'expired',
    error: { code: string; message: string },
  ): Promise<boolean> {
    const o = firm ? await this.repo.lock(em, id, firm) : await this.repo.find(id, null);
    if (!o) return false;
    let ended = false;
    for (const c of await this.repo.pendingCalls(em, o.transactionIds))
      ended = (await this.transactions.endPending(em, c.id, status, error)) || ended;
    return ended;
  }

  private async pending(p: Principal, q: PageQuery): Promise<Page<OrderResponse>> {
    const page = await this.repo.pending(requireFirm(p), q);
    return { items: await Promise.all(page.items.map((o) => this.get(p, o.id))), nextCursor: page.nextCursor };
  }
}
