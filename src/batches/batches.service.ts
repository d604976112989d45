/**
 * Batches: many rows of one operation kind on one token, validated together and accepted whole
 * (atomic) or row by row. Acceptance writes the batch, its rows and the queued transactions of its
 * lots in ONE database transaction: a lot is one queued transaction (≤ 100 rows through the
 * contract's batch function; v1 tokens: one transaction per row), so the pipeline's exactly-once
 * signing makes each lot happen exactly once across crashes. A lot's final status moves its rows
 * and settles the batch in the receipt stage's database transaction (a transition hook), where a
 * batch that ends (completed or partially_failed) writes its `batch.completed` webhook event.
 * Never signs anything itself and never rolls back a confirmed lot. A batch waiting for approval
 * is decided in batch-approvals.ts; its lots are cut in lots.ts.
 */
import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Address } from 'viem';
import { ApprovalPolicy } from '../approvals/approval-policy';
import { AppError, NotFoundError } from '../common/app-error';
import type { Prepared } from '../common/idempotency/idempotency';
import { actorOf, firmOf, requireFirm, type Principal } from '../common/principal';
import { TokenReads } from '../tokens/token-reads';
import { TokensService } from '../tokens/tokens.service';
import type { TxKind } from '../transactions/entities/transaction.entity';
import { TransactionHooks } from '../transactions/hooks';
import type { Transition } from '../transactions/pipeline/types';
import { TransactionQueue } from '../transactions/queue';
import { UsersService } from '../users/users.service';
import { publishBatchCompleted } from '../webhooks/webhook-events';
import type { RawRow } from './batch-input';
import { debits, frozenChecks, judgeOnChain, listed, namedUsers, resolveRows, type Judged, type RowProblem } from './batch-rows';
import { BatchesRepository } from './batches.repository';
import type { BatchItemResponse, BatchResponse } from './dto/batch.dto';
import type { Batch, BatchItem, BatchKind, LegalBasis } from './entities/batch.entity';
import { amountOf, chunk, LOT_KIND, LOT_SIZE, lotBasis, lotCall, summed } from './lots';

/** Chain reads started at once (viem batches them into JSON-RPC batches). */
const READ_CHUNK = 500;

/** An atomic batch (or order) with invalid rows: 422 listing every one. */
export class BatchInvalidError extends AppError {
  constructor(readonly rows: RowProblem[]) {
    super('BATCH_INVALID', `${rows.length} row(s) are invalid; nothing was queued`);
  }
}

export interface BatchInput {
  kind: BatchKind;
  rows: RawRow[];
  legalBasis: LegalBasis | null;
  atomic: boolean;
}

/** What validation read and judged (acceptance, and again at the last approval). */
export type Validated = Awaited<ReturnType<BatchesService['validate']>>;

async function chunked<T, R>(items: readonly T[], f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += READ_CHUNK) out.push(...(await Promise.all(items.slice(i, i + READ_CHUNK).map(f))));
  return out;
}

@Injectable()
export class BatchesService implements OnModuleInit {
  constructor(
    private readonly repo: BatchesRepository,
    private readonly tokens: TokensService,
    private readonly reads: TokenReads,
    private readonly users: UsersService,
    private readonly queue: TransactionQueue,
    private readonly hooks: TransactionHooks,
    private readonly policy: ApprovalPolicy,
  ) {}

  onModuleInit(): void {
    this.hooks.onTransition((em, changed) => this.onLotsChanged(em, changed));
  }

  // ---- acceptance -----------------------------------------------------------------------

  /** Validates every row (database and chain, outside any transaction); dry run: the report only. */
  async validate(p: Principal, tokenId: string, input: BatchInput) {
    const firm = requireFirm(p);
    const t = await this.tokens.visible(p, tokenId);
    if (t.status !== 'active' || !t.address) throw new AppError('TOKEN_NOT_ACTIVE', `The token is ${t.status}`);
    const token = { ...t, address: t.address };
    const { ids, refs } = namedUsers(input.rows);
    const [found, at] = await Promise.all([this.users.lookup(firm, ids, refs), this.reads.head()]);
    const [paused, governancePaused] = await Promise.all([
      this.reads.paused(token.address, at),
      t.contractVersion >= 2 ? this.reads.governancePaused(token.address, at) : false,
    ]);
    if (governancePaused) throw new AppError('GOVERNANCE_PAUSED', 'The token is paused by governance');
    if (paused) throw new AppError('TOKEN_PAUSED', 'The token is paused');
    const resolved = resolveRows(input.kind, input.rows, found, input.legalBasis);
    // Chain reads: every address whose freeze matters, every sender's balance, at one block.
    const watched = new Set<Address>();
    for (const r of resolved.rows) for (const s of frozenChecks(input.kind)) if (r[s]) watched.add(r[s]);
    const senders = debits(input.kind) ? [...new Set(resolved.rows.flatMap((r) => (r.from ? [r.from] : [])))] : [];
    const [frozenList, balances, pending] = await Promise.all([
      chunked([...watched], (a) => this.reads.isFrozen(token.address, a, at)),
      chunked(senders, (a) => this.reads.balanceOf(token.address, a, at)),
      senders.length ? this.queue.pendingDebitsMany(undefined, t.id, senders, at) : new Map<string, bigint>(),
    ]);
    const frozen = new Map([...watched].map((a, i) => [a, frozenList[i]!]));
    const balance = new Map(senders.map((a, i) => [a, balances[i]!]));
    const available = new Map(senders.map((a) => [a, balance.get(a)! - (pending.get(a) ?? 0n)]));
    const judged = judgeOnChain(input.kind, resolved, frozen, available);
    return { firm, token, at, resolved, frozen, balance, senders, judged };
  }

  /** The dry-run report: what acceptance would answer, nothing stored. */
  async dryRun(p: Principal, tokenId: string, input: BatchInput): Promise<BatchResponse> {
    const v = await this.validate(p, tokenId, input);
    return this.report(randomUUID(), v.token.id, input, v.judged, new Date(), true);
  }

  async prepare(p: Principal, tokenId: string, input: BatchInput): Promise<Prepared<BatchResponse>> {
    const v = await this.validate(p, tokenId, input);
    if (input.atomic && v.judged.problems.size) throw new BatchInvalidError(listed(v.judged.problems));
    // Policies apply to the batch as a whole (its kind, its summed amount); the cheap check first.
    const gated = await this.policy.mayApply(v.firm, input.kind);
    return {
      write: async (em) => {
        // As single debits: one (token, address) at a time, re-checked against what was accepted meanwhile.
        const judged = await this.judgeUnderLock(em, input.kind, v);
        if (input.atomic && judged.problems.size) throw new BatchInvalidError(listed(judged.problems));
        const id = randomUUID();
        const required =
          gated && judged.rows.length
            ? await this.policy.required(em, { firmId: v.firm, tokenId: v.token.id, kind: input.kind, amount: summed(judged.rows) }, gated)
            : 0;
        const createdAt = await this.store(em, p, id, v.firm, v.token, input, judged, required);
        if (required) await this.policy.awaitApproval(em, { type: 'batch', id, firmId: v.firm });
        return { id, value: this.report(id, v.token.id, input, judged, createdAt, false, required > 0) };
      },
    };
  }

  /** Acceptance's debit rule, in `em`: one (token, address) at a time, against what was accepted meanwhile (also at the last approval). */
  async judgeUnderLock(em: EntityManager, kind: BatchKind, v: Validated): Promise<Judged> {
    if (!v.senders.length) return v.judged;
    await this.queue.lockDebitsMany(em, v.token.id, v.senders);
    const pending = await this.queue.pendingDebitsMany(em, v.token.id, v.senders, v.at);
    const available = new Map(v.senders.map((a) => [a, v.balance.get(a)! - (pending.get(a) ?? 0n)]));
    return judgeOnChain(kind, v.resolved, v.frozen, available);
  }

  private async store(
    em: EntityManager,
    p: Principal,
    id: string,
    firm: string,
    token: {
      id: string;
      address: Address;
      contractVersion: number;
      signerKind: 'operator' | 'issuer';
      signerId: string;
      signerAddress: string;
    },
    input: BatchInput,
    judged: Judged,
    approvalsRequired: number,
  ): Promise<Date> {
    // Needing approval, the whole batch waits: its lots and rows `pending_approval`, nothing reserved or signed.
    const status = approvalsRequired ? 'pending_approval' : judged.rows.length ? 'running' : 'completed';
    const createdAt = await this.repo.insert(em, {
      id,
      operatorId: firm,
      tokenId: token.id,
      kind: input.kind,
      status,
      atomic: input.atomic,
      total: input.rows.length,
      requestedBy: { type: actorOf(p).type, id: p.id },
    });
    const signer = { kind: token.signerKind, id: token.signerId, address: token.signerAddress as Address };
    const txOf = new Map<number, string>();
    const lotIds: string[] = [];
    const perRow = token.contractVersion < 2;
    const lots = perRow ? judged.rows.map((r) => [r]) : chunk(judged.rows, LOT_SIZE);
    for (const lot of lots) {
      const txId = randomUUID();
      lotIds.push(txId);
      for (const r of lot) txOf.set(r.row, txId);
      if (perRow) {
        const r = lot[0]!;
        const kind: TxKind = input.kind;
        const call = lotCall(input.kind, lot, true);
        await this.queue.enqueue(em, txId, {
          tokenId: token.id,
          kind,
          principal: p,
          userId: r.userId,
          signer,
          to: token.address,
          args: call.args,
          request: { batchId: id, row: r.row, userId: r.userId, toUserId: r.toUserId, amount: r.amount?.toString() ?? null },
          debit: call.debitAddress && r.amount ? { address: call.debitAddress, amount: r.amount } : undefined,
          legalBasis: r.legalBasis,
          approvalsRequired,
        });
        continue;
      }
      await this.queue.enqueue(em, txId, {
        tokenId: token.id,
        kind: LOT_KIND[input.kind],
        principal: p,
        userId: null,
        signer,
        to: token.address,
        args: lotCall(input.kind, lot, false).args,
        // The lot's summed amount: what a rolling window counts.
        request: { batchId: id, batchKind: input.kind, rows: lot.map((r) => r.row), ...amountOf(lot) },
        legalBasis: lotBasis(lot),
        approvalsRequired,
      });
    }
    if (lotIds.length) await this.queue.assignBatch(em, lotIds, id);
    const byRow = new Map(judged.rows.map((r) => [r.row, r]));
    const items: Array<Omit<BatchItem, 'batch'>> = input.rows.map((raw) => {
      const r = byRow.get(raw.row);
      const problem = judged.problems.get(raw.row);
      return {
        batchId: id,
        row: raw.row,
        userId: r?.userId ?? null,
        toUserId: r?.toUserId ?? null,
        amount: r?.amount?.toString() ?? (typeof raw.amount === 'string' && /^[0-9]{1,78}$/.test(raw.amount) ? raw.amount : null),
        legalBasis: r?.legalBasis ?? null,
        instruction: r?.instruction ?? null,
        status: r ? (approvalsRequired ? 'pending_approval' : 'queued') : 'invalid',
        transactionId: txOf.get(raw.row) ?? null,
        error: problem ? { code: problem.code, field: problem.field, message: problem.message } : null,
      };
    });
    await this.repo.insertItems(em, items);
    return createdAt;
  }

  private report(
    id: string,
    tokenId: string,
    input: BatchInput,
    judged: Judged,
    createdAt: Date,
    dryRun: boolean,
    pendingApproval = false,
  ): BatchResponse {
    const problems = listed(judged.problems);
    return {
      id,
      tokenId,
      kind: input.kind,
      status: pendingApproval ? 'pending_approval' : dryRun || judged.rows.length ? 'running' : 'completed',
      atomic: input.atomic,
      total: input.rows.length,
      counts: { valid: judged.rows.length, invalid: problems.length, queued: dryRun ? 0 : judged.rows.length, confirmed: 0, failed: 0 },
      ...(problems.length ? { rows: problems } : {}),
      ...(dryRun ? { dryRun: true } : {}),
      createdAt: createdAt.toISOString(),
    };
  }

  // ---- reading --------------------------------------------------------------------------

  async get(p: Principal, id: string): Promise<BatchResponse> {
    return this.view(await this.find(p, id));
  }

  /** The batch as its routes answer it (read in `em` when given: a settling transaction sees its own writes). */
  private async view(b: Batch, em?: EntityManager): Promise<BatchResponse> {
    // One after the other: inside `em` both run on one connection.
    const c = await this.repo.counts(b.id, em);
    const problems = await this.repo.problems(b.id, em);
    return {
      id: b.id,
      tokenId: b.tokenId,
      kind: b.kind,
      status: b.status,
      atomic: b.atomic,
      total: b.total,
      counts: {
        valid: b.total - c.invalid,
        invalid: c.invalid,
        queued: c.queued + c.pending_approval,
        confirmed: c.confirmed,
        failed: c.failed,
      },
      ...(problems.length
        ? { rows: problems.map((x) => ({ row: x.row, field: x.error.field ?? '', code: x.error.code, message: x.error.message })) }
        : {}),
      createdAt: b.createdAt.toISOString(),
    };
  }

  async items(p: Principal, id: string, afterRow: number, limit: number | undefined): Promise<BatchItemResponse[]> {
    await this.find(p, id);
    const rows = await this.repo.items(id, afterRow, limit);
    return rows.map((r) => ({
      row: r.row,
      userId: r.userId,
      toUserId: r.toUserId,
      amount: r.amount,
      legalBasis: r.legalBasis,
      status: r.status,
      transactionId: r.transactionId,
      error: r.error,
    }));
  }

  async find(p: Principal, id: string): Promise<Batch> {
    const b = await this.repo.find(id, firmOf(p));
    if (!b) throw new NotFoundError('Batch');
    return b;
  }

  // ---- finality -------------------------------------------------------------------------

  /** Final lots move their rows; batches with nothing left waiting settle. Idempotent per transition. */
  private async onLotsChanged(em: EntityManager, changed: readonly Transition[]): Promise<void> {
    const final = changed.filter(
      (t) => typeof t.request.batchId === 'string' && ['confirmed', 'failed', 'cancelled', 'rejected', 'expired'].includes(t.status),
    );
    if (!final.length) return;
    const failed = final.filter((t) => t.status !== 'confirmed');
    const errors = failed.length
      ? await this.queue.errorsOf(
          em,
          failed.map((t) => t.id),
        )
      : new Map<string, { code: string; message: string }>();
    await this.repo.settleItems(
      em,
      final.map((t) => ({
        transactionId: t.id,
        status: t.status === 'confirmed' ? 'confirmed' : 'failed',
        error:
          t.status === 'confirmed'
            ? null
            : {
                code: errors.get(t.id)?.code ?? t.status.toUpperCase(),
                message: errors.get(t.id)?.message ?? `the lot transaction ${t.id} was ${t.status}`,
              },
      })),
    );
    const settled = await this.repo.settleBatches(em, [...new Set(final.map((t) => t.request.batchId as string))]);
    // batch.completed in the same database transaction as the change that finished the batch.
    for (const id of settled) {
      const b = await this.repo.findIn(em, id);
      if (b) await publishBatchCompleted(em, b.operatorId, { ...(await this.view(b, em)) });
    }
  }
}
