/**
 * Orders (¶0057): one request of operations on several tokens. Every operation is validated and
 * pre-checked first, through the operation catalogue as if it came alone; then all are written in
 * ONE database transaction, where each operation's debit is re-checked under its (token, address)
 * lock against everything accepted before it — this order's earlier operations included — so
 * debits add up across the order. Any refusal: 422 BATCH_INVALID listing each operation, nothing
 * queued. Each transaction keeps its own token's signer (the firm key or the issuer key).
 */
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppError, NotFoundError } from '../common/app-error';
import type { Prepared } from '../common/idempotency/idempotency';
import { firmOf, requireFirm, type Principal } from '../common/principal';
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
export class OrdersService {
  constructor(
    private readonly repo: OrdersRepository,
    private readonly operations: TokenOperations,
    private readonly transactions: TransactionsService,
  ) {}

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
        const refused: RowProblem[] = [];
        for (const [i, prep] of prepared.entries()) {
          try {
            ids.push((await prep!.write(em)).id);
          } catch (e) {
            refused.push(problemOf(i + 1, e));
          }
        }
        if (refused.length) throw new BatchInvalidError(refused);
        const id = randomUUID();
        // TODO(approvals): an order needing approval anywhere waits whole: its transactions are stored
        // pending_approval here once the approvals module's policy evaluator exists.
        await this.repo.insert(em, { id, operatorId: firm, transactionIds: ids });
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
      : !txs.every((t) => final(t.status))
        ? 'running'
        : txs.every((t) => t.status === 'confirmed')
          ? 'completed'
          : 'partially_failed';
    return { id: o.id, status, transactions: txs, createdAt: o.createdAt.toISOString() };
  }
}
