/**
 * A batch waiting for approval. A batch is decided as a whole (WholeApprovals) under its row
 * lock: its lots carry the approvals (required, given) as any pending transaction does, and move
 * together. The last approval validates the waiting rows again as at acceptance (users, wallets,
 * freezes, balances less pending debits, cumulatively): an atomic batch with a refused row runs
 * none, a non-atomic one runs the others; a refused row ends `failed` with its pre-check code and
 * no transaction. Rejection and expiry end the batch with its lots. Never signs anything itself.
 */
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { ApprovalItems } from '../approvals/approval-items';
import { WholeApprovals, type WholeItem } from '../approvals/whole-approvals';
import type { Page, PageQuery } from '../common/pagination';
import { requireFirm, type Principal } from '../common/principal';
import type { ApprovalGiven } from '../transactions/entities/transaction.entity';
import { TransactionsService } from '../transactions/transactions.service';
import type { RawRow } from './batch-input';
import { listed, type Judged, type RowProblem } from './batch-rows';
import { BatchesRepository } from './batches.repository';
import { BatchesService, type Validated } from './batches.service';
import type { BatchResponse } from './dto/batch.dto';
import type { BatchKind } from './entities/batch.entity';
import { lotCall } from './lots';

/** The waiting rows re-validated before the last approval, and the lot each belongs to. */
interface BatchRecheck {
  kind: BatchKind;
  atomic: boolean;
  v: Validated;
  lotOf: Map<number, string | null>;
}

@Injectable()
export class BatchApprovals implements OnModuleInit {
  constructor(
    private readonly repo: BatchesRepository,
    private readonly batches: BatchesService,
    private readonly transactions: TransactionsService,
    private readonly approvalItems: ApprovalItems,
    private readonly whole: WholeApprovals,
  ) {}

  onModuleInit(): void {
    this.approvalItems.register('batch', {
      expire: (em, id) => this.end(em, id, 'expired', { code: 'EXPIRED', message: 'the batch was not approved in time' }),
      pending: (p, q) => this.pending(p, q),
    });
  }

  approve(p: Principal, id: string, body: { otp?: string; comment?: string }, requestId?: string): Promise<BatchResponse> {
    return this.whole.approve(this.decisions, p, id, body, requestId).then(() => this.batches.get(p, id));
  }

  reject(p: Principal, id: string, reason: string, requestId?: string): Promise<BatchResponse> {
    return this.whole.reject(this.decisions, p, id, reason, requestId).then(() => this.batches.get(p, id));
  }

  private readonly decisions: WholeItem<BatchRecheck> = {
    type: 'batch',
    what: 'Batch',
    lock: async (em, firm, id) => {
      const b = await this.repo.lock(em, id, firm);
      return b && { status: b.status, pending: await this.transactions.pendingOfBatch(em, id) };
    },
    recheck: (p, id) => this.recheck(p, id),
    release: (em, id, given, checked) => this.release(em, id, given, checked),
    end: (em, id, status, error, given) => this.end(em, id, status, error, given),
  };

  /** The waiting rows validated again (chain reads outside any transaction), as the checker sees them. */
  private async recheck(p: Principal, id: string): Promise<BatchRecheck> {
    const b = await this.batches.find(p, id);
    const waiting = await this.repo.waitingRows(id);
    const rows: RawRow[] = waiting.map((w) => ({
      row: w.row,
      userId: w.userId ?? undefined,
      ...(w.toUserId ? { toUserId: w.toUserId } : {}),
      ...(w.amount !== null ? { amount: w.amount } : {}),
      ...(w.legalBasis ? { legalBasis: w.legalBasis } : {}),
      ...(w.instruction ? { instruction: w.instruction } : {}),
    }));
    const v = await this.batches.validate(p, b.tokenId, { kind: b.kind, rows, legalBasis: null, atomic: b.atomic });
    return { kind: b.kind, atomic: b.atomic, v, lotOf: new Map(waiting.map((w) => [w.row, w.transactionId])) };
  }

  /** The last approval under the batch's lock: debits judged again against what was accepted meanwhile, then released. */
  private async release(
    em: EntityManager,
    id: string,
    given: readonly ApprovalGiven[],
    c: BatchRecheck,
  ): Promise<{ queued: boolean; refused?: RowProblem[] }> {
    const judged = await this.batches.judgeUnderLock(em, c.kind, c.v);
    const refused = listed(judged.problems);
    const lots = await this.transactions.pendingOfBatch(em, id);
    await this.repo.setStatus(em, id, 'pending_approval', 'running');
    // A refused row has no transaction: nothing of it reaches the chain.
    if (refused.length) await this.repo.refuseItems(em, id, refused);
    if (c.atomic && refused.length) {
      const problem = {
        code: 'BATCH_INVALID',
        message: `row(s) ${refused.map((r) => r.row).join(', ')} were refused at the last approval; an atomic batch runs whole or not at all`,
      };
      for (const lot of lots) await this.transactions.endPending(em, lot, 'failed', problem, given);
      return { queued: false, refused };
    }
    await this.repo.releaseItems(em, id);
    const byLot = new Map<string, Judged['rows']>();
    for (const r of judged.rows) {
      const lot = c.lotOf.get(r.row);
      if (lot) byLot.set(lot, [...(byLot.get(lot) ?? []), r]);
    }
    const perRow = c.v.token.contractVersion < 2;
    let queued = false;
    for (const lot of lots) {
      const rows = byLot.get(lot);
      if (!rows?.length)
        await this.transactions.endPending(
          em,
          lot,
          'failed',
          { code: refused[0]?.code ?? 'BATCH_INVALID', message: 'every row of this lot was refused at the last approval' },
          given,
        );
      else queued = (await this.transactions.releaseApproved(em, lot, given, lotCall(c.kind, rows, perRow))) || queued;
    }
    return { queued, ...(refused.length ? { refused } : {}) };
  }

  /**
   * Ends a pending batch with its lots: rejected or expired, or failed as a whole at the last
   * approval (the batch runs then, and settles `partially_failed` as its lots' rows fail through
   * the transition hook).
   */
  private async end(
    em: EntityManager,
    id: string,
    status: 'failed' | 'rejected' | 'expired',
    error: { code: string; message: string },
    given?: readonly ApprovalGiven[],
  ): Promise<boolean> {
    if (!(await this.repo.setStatus(em, id, 'pending_approval', status === 'failed' ? 'running' : status))) return false;
    for (const lot of await this.transactions.pendingOfBatch(em, id)) await this.transactions.endPending(em, lot, status, error, given);
    return true;
  }

  private async pending(p: Principal, q: PageQuery): Promise<Page<BatchResponse>> {
    const page = await this.repo.pending(requireFirm(p), q);
    return { items: await Promise.all(page.items.map((b) => this.batches.get(p, b.id))), nextCursor: page.nextCursor };
  }
}
