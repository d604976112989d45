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
import { ApprovalRechecks, type Recheck } from '../approvals/rechecks';
import { isPrecheckRefusal, WholeApprovals, type WholeItem } from '../approvals/whole-approvals';
import { AppError, NotFoundError } from '../common/app-error';
import type { Prepared } from '../common/idempotency/idempotency';
import type { Page, PageQuery } from '../common/pagination';
import { firmOf, requireFirm, type Principal } from '../common/principal';
import { AppConfig } from '../config/app-config';
import type { ApprovalGiven } from '../transactions/entities/transaction.entity';
import type { Problem } from '../transactions/pipeline/types';
import { createValidationPipe } from '../common/validation';
import { OPERATION_BY_KIND } from '../tokens/operations/catalogue';
import { TokenOperations } from '../tokens/operations/operations.service';
import type { TransactionResponse } from '../transactions/dto/transaction.response';
import { TransactionsService, type PendingRow } from '../transactions/transactions.service';
import type { RowProblem } from '../batches/batch-rows';
import { BatchInvalidError } from '../batches/batches.service';
import type { OrderResponse } from './dto/order.dto';
import { OrdersRepository } from './orders.repository';

const pipe = createValidationPipe();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Each pending operation of an order re-checked before its last approval: the call as it is now, or why it is impossible. */
type OrderRecheck = Array<{ operation: number; id: string; checked: Recheck | Problem }>;

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
    private readonly policy: ApprovalPolicy,
    private readonly approvalItems: ApprovalItems,
    private readonly rechecks: ApprovalRechecks,
    private readonly whole: WholeApprovals,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.approvalItems.register('order', {
      expire: (em, id) => this.end(em, id, 'expired', { code: 'EXPIRED', message: 'the order was not approved in time' }),
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
          await this.transactions.holdForOrder(em, id, ids, required);
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
  // An order is decided as a whole (WholeApprovals) under its row lock: its transactions carry the
  // approvals (required, given) and move together. The last approval re-runs each operation's
  // pre-checks (the catalogue's, registered with ApprovalRechecks); debits add up across the
  // order as at acceptance. An order runs whole or not at all: one refused operation ends every
  // transaction `failed` (the refused ones with their pre-check code), nothing queued.

  approve(p: Principal, id: string, body: { otp?: string; comment?: string }, requestId?: string): Promise<OrderResponse> {
    return this.whole.approve(this.decisions, p, id, body, requestId).then(() => this.get(p, id));
  }

  reject(p: Principal, id: string, reason: string, requestId?: string): Promise<OrderResponse> {
    return this.whole.reject(this.decisions, p, id, reason, requestId).then(() => this.get(p, id));
  }

  private readonly decisions: WholeItem<OrderRecheck> = {
    type: 'order',
    what: 'Order',
    lock: async (em, firm, id) => {
      const o = await this.repo.lock(em, id, firm);
      if (!o) return undefined;
      const pending = await this.transactions.pendingAmong(em, o.transactionIds);
      return { status: pending.length ? 'pending_approval' : 'no longer pending approval', pending };
    },
    recheck: (p, id) => this.recheck(p, id),
    release: (em, id, given, checked) => this.release(em, id, given, checked),
    end: (em, id, status, error, given) => this.end(em, id, status, error, given),
  };

  /** Each pending operation's pre-checks again (chain reads outside any transaction; a 503 throws). */
  private async recheck(p: Principal, id: string): Promise<OrderRecheck> {
    const firm = requireFirm(p);
    const o = await this.repo.find(id, firm);
    if (!o) throw new NotFoundError('Order');
    const ttl = this.config.controls.approvalTtlSeconds;
    const rows = await this.transactions.transaction(async (em) => {
      // The order's lock first, as every decision and the expiry take it: locking its rows alone
      // would deadlock with an approval that holds the order and releases them.
      if (!(await this.repo.lock(em, id, firm))) throw new NotFoundError('Order');
      const out: Array<{ operation: number; row: PendingRow }> = [];
      for (const [i, txId] of o.transactionIds.entries()) {
        const row = await this.transactions.lockForApproval(em, txId, firm, ttl);
        if (row?.status === 'pending_approval') out.push({ operation: i + 1, row });
      }
      return out;
    });
    return Promise.all(
      rows.map(async ({ operation, row }) => ({
        operation,
        id: row.id,
        checked: await this.rechecks.run(row).catch((e: unknown): Problem => {
          if (isPrecheckRefusal(e)) return { code: e.code, message: e.detail };
          throw e;
        }),
      })),
    );
  }

  /**
   * The last approval under the order's lock: each operation confirmed (its debit against
   * everything accepted before it, this order's earlier operations included) and released in
   * order, inside a savepoint; one refusal rolls the releases back and ends the whole order failed.
   */
  private async release(
    em: EntityManager,
    id: string,
    given: readonly ApprovalGiven[],
    ops: OrderRecheck,
  ): Promise<{ queued: boolean; refused?: Array<{ operation: number } & Problem> }> {
    const refused: Array<{ operation: number; id: string } & Problem> = [];
    await em.query('SAVEPOINT order_release');
    for (const op of ops) {
      const c = op.checked;
      if ('code' in c) {
        refused.push({ operation: op.operation, id: op.id, ...c });
        continue;
      }
      const problem = await c.confirm(em).then(
        () => undefined,
        (e: unknown): Problem => {
          if (isPrecheckRefusal(e)) return { code: e.code, message: e.detail };
          throw e;
        },
      );
      if (problem) refused.push({ operation: op.operation, id: op.id, ...problem });
      else
        await this.transactions.releaseApproved(em, op.id, given, {
          args: c.args,
          debitAddress: c.debit?.address ?? null,
          debitAmount: c.debit ? c.debit.amount.toString() : null,
        });
    }
    if (!refused.length) return { queued: ops.length > 0 };
    await em.query('ROLLBACK TO SAVEPOINT order_release');
    const whole: Problem = {
      code: 'BATCH_INVALID',
      message: `operation(s) ${refused.map((r) => r.operation).join(', ')} were refused at the last approval; an order runs whole or not at all`,
    };
    for (const op of ops) {
      const own = refused.find((r) => r.id === op.id);
      await this.transactions.endPending(em, op.id, 'failed', own ? { code: own.code, message: own.message } : whole, given);
    }
    return { queued: false, refused: refused.map(({ operation, code, message }) => ({ operation, code, message })) };
  }

  /** Ends every pending transaction of an order (rejected, expired, or failed as a whole); false when none was pending. */
  private async end(
    em: EntityManager,
    id: string,
    status: 'failed' | 'rejected' | 'expired',
    error: Problem,
    given?: readonly ApprovalGiven[],
  ): Promise<boolean> {
    const found = await this.repo.find(id, null);
    // The expiry takes the order's lock too, so it and an approval decide one after the other.
    const o = found && (await this.repo.lock(em, id, found.operatorId));
    if (!o) return false;
    let ended = false;
    for (const tx of await this.transactions.pendingAmong(em, o.transactionIds))
      ended = (await this.transactions.endPending(em, tx, status, error, given)) || ended;
    return ended;
  }

  private async pending(p: Principal, q: PageQuery): Promise<Page<OrderResponse>> {
    const firm = requireFirm(p);
    // Two statements a page: the orders waiting (from their transactions), then the page of them.
    const page = await this.repo.pending(firm, await this.transactions.ordersPendingApproval(firm), q);
    return { items: await Promise.all(page.items.map((o) => this.get(p, o.id))), nextCursor: page.nextCursor };
  }
}
