/**
 * Batches: many rows of one operation kind on one token, validated together and accepted whole
 * (atomic) or row by row. Acceptance writes the batch, its rows and the queued transactions of its
 * lots in ONE database transaction: a lot is one queued transaction (≤ 100 rows through the
 * contract's batch function; v1 tokens: one transaction per row), so the pipeline's exactly-once
 * signing makes each lot happen exactly once across crashes. A lot's final status moves its rows
 * and settles the batch in the receipt stage's database transaction (a transition hook), where a
 * batch that ends (completed or partially_failed) writes its `batch.completed` webhook event.
 * Never signs anything itself and never rolls back a confirmed lot.
 */
import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Address } from 'viem';
import { ApprovalItems } from '../approvals/approval-items';
import { ApprovalPolicy } from '../approvals/approval-policy';
import { WholeApprovals, type WholeItem } from '../approvals/whole-approvals';
import { AppError, NotFoundError } from '../common/app-error';
import type { Prepared } from '../common/idempotency/idempotency';
import type { Page, PageQuery } from '../common/pagination';
import { actorOf, firmOf, requireFirm, type Principal } from '../common/principal';
import { TokenReads } from '../tokens/token-reads';
import { TokensService } from '../tokens/tokens.service';
import type { ApprovalGiven, TxKind } from '../transactions/entities/transaction.entity';
import { TransactionHooks } from '../transactions/hooks';
import type { Transition } from '../transactions/pipeline/types';
import { TransactionQueue } from '../transactions/queue';
import { TransactionsService } from '../transactions/transactions.service';
import { UsersService } from '../users/users.service';
import { publishBatchCompleted } from '../webhooks/webhook-events';
import type { RawRow } from './batch-input';
import { debits, frozenChecks, judgeOnChain, listed, namedUsers, resolveRows, type Judged, type RowProblem } from './batch-rows';
import { BatchesRepository } from './batches.repository';
import type { BatchItemResponse, BatchResponse } from './dto/batch.dto';
import type { Batch, BatchItem, BatchKind, LegalBasis } from './entities/batch.entity';

const LOT_SIZE = 100;
/** Chain reads started at once (viem batches them into JSON-RPC batches). */
const READ_CHUNK = 500;
const LOT_KIND: Record<BatchKind, TxKind> = {
  issue: 'batch-issue',
  redeem: 'batch-redeem',
  // An instructed transfer runs through the same agent function as the single `transfer` (forcedTransfer);
  // its rows keep their holder instruction, and the batch its kind.
  transfer: 'batch-forced-transfer',
  'forced-transfer': 'batch-forced-transfer',
  freeze: 'batch-freeze',
  unfreeze: 'batch-unfreeze',
};

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
type Validated = Awaited<ReturnType<BatchesService['validate']>>;

/** The waiting rows re-validated before the last approval, and the lot each belongs to. */
interface BatchRecheck {
  kind: BatchKind;
  atomic: boolean;
  v: Validated;
  lotOf: Map<number, string | null>;
}

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
    private readonly approvalItems: ApprovalItems,
    private readonly whole: WholeApprovals,
    private readonly transactions: TransactionsService,
  ) {}

  onModuleInit(): void {
    this.hooks.onTransition((em, changed) => this.onLotsChanged(em, changed));
    this.approvalItems.register('batch', {
      expire: (em, id) => this.end(em, id, 'expired', { code: 'EXPIRED', message: 'the batch was not approved in time' }),
      pending: (p, q) => this.pending(p, q),
    });
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
            ? await this.policy.required(em, { firmId: v.firm, tokenId: v.token.id, kind: input.kind, amount: summed(judged.rows) })
            : 0;
        const createdAt = await this.store(em, p, id, v.firm, v.token, input, judged, required);
        if (required) await this.policy.awaitApproval(em, { type: 'batch', id, firmId: v.firm });
        return { id, value: this.report(id, v.token.id, input, judged, createdAt, false, required > 0) };
      },
    };
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

  private async find(p: Principal, id: string): Promise<Batch> {
    const b = await this.repo.find(id, firmOf(p));
    if (!b) throw new NotFoundError('Batch');
    return b;
  }

  // ---- approvals ------------------------------------------------------------------------
  // A batch is decided as a whole (WholeApprovals) under its row lock: its lots carry the approvals
  // (required, given) as any pending transaction does, and move together. The last approval
  // validates the waiting rows again as at acceptance (users, wallets, freezes, balances less
  // pending debits, cumulatively): an atomic batch with a refused row runs none, a non-atomic one
  // runs the others; a refused row ends `failed` with its pre-check code and no transaction.

  approve(p: Principal, id: string, body: { otp?: string; comment?: string }, requestId?: string): Promise<BatchResponse> {
    return this.whole.approve(this.decisions, p, id, body, requestId).then(() => this.get(p, id));
  }

  reject(p: Principal, id: string, reason: string, requestId?: string): Promise<BatchResponse> {
    return this.whole.reject(this.decisions, p, id, reason, requestId).then(() => this.get(p, id));
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
    const b = await this.find(p, id);
    const waiting = await this.repo.waitingRows(id);
    const rows: RawRow[] = waiting.map((w) => ({
      row: w.row,
      userId: w.userId ?? undefined,
      ...(w.toUserId ? { toUserId: w.toUserId } : {}),
      ...(w.amount !== null ? { amount: w.amount } : {}),
      ...(w.legalBasis ? { legalBasis: w.legalBasis } : {}),
      ...(w.instruction ? { instruction: w.instruction } : {}),
    }));
    const v = await this.validate(p, b.tokenId, { kind: b.kind, rows, legalBasis: null, atomic: b.atomic });
    return { kind: b.kind, atomic: b.atomic, v, lotOf: new Map(waiting.map((w) => [w.row, w.transactionId])) };
  }

  /** The last approval under the batch's lock: debits judged again against what was accepted meanwhile, then released. */
  private async release(
    em: EntityManager,
    id: string,
    given: readonly ApprovalGiven[],
    c: BatchRecheck,
  ): Promise<{ queued: boolean; refused?: RowProblem[] }> {
    const judged = await this.judgeUnderLock(em, c.kind, c.v);
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

  /** Acceptance's debit rule, in `em`: one (token, address) at a time, against what was accepted meanwhile. */
  private async judgeUnderLock(em: EntityManager, kind: BatchKind, v: Validated): Promise<Judged> {
    if (!v.senders.length) return v.judged;
    await this.queue.lockDebitsMany(em, v.token.id, v.senders);
    const pending = await this.queue.pendingDebitsMany(em, v.token.id, v.senders, v.at);
    const available = new Map(v.senders.map((a) => [a, v.balance.get(a)! - (pending.get(a) ?? 0n)]));
    return judgeOnChain(kind, v.resolved, v.frozen, available);
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
    return { items: await Promise.all(page.items.map((b) => this.get(p, b.id))), nextCursor: page.nextCursor };
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

/** The rows' summed amount (undefined for kinds without one, e.g. freeze). */
function summed(rows: Judged['rows']): bigint | undefined {
  if (!rows.some((r) => r.amount !== undefined)) return undefined;
  return rows.reduce((s, r) => s + (r.amount ?? 0n), 0n);
}

/**
 * A lot's call arguments (and, for a v1 token's one-row lot, its debit) from its rows: at
 * acceptance, and again at the last approval from the rows still valid then (addresses as they are now).
 */
function lotCall(
  kind: BatchKind,
  lot: Judged['rows'],
  perRow: boolean,
): { args: Record<string, unknown>; debitAddress: string | null; debitAmount: string | null } {
  if (perRow) {
    const r = lot[0]!;
    const debit = debits(kind) && r.from && r.amount ? { address: r.from, amount: r.amount.toString() } : undefined;
    return {
      args: { from: r.from, to: r.to, amount: r.amount?.toString() },
      debitAddress: debit?.address ?? null,
      debitAmount: debit?.amount ?? null,
    };
  }
  const owed = new Map<Address, bigint>();
  if (debits(kind)) for (const r of lot) owed.set(r.from!, (owed.get(r.from!) ?? 0n) + r.amount!);
  return {
    args: {
      rows: lot.map((r) => ({ from: r.from, to: r.to, amount: r.amount?.toString() })),
      ...(owed.size ? { debits: [...owed].map(([address, amount]) => ({ address, amount: amount.toString() })) } : {}),
    },
    debitAddress: null,
    debitAmount: null,
  };
}

function amountOf(lot: Judged['rows']): { amount?: string } {
  const a = summed(lot);
  return a === undefined ? {} : { amount: a.toString() };
}

/**
 * A lot's legal basis: its rows' (each a row's own or the batch's one for all rows) when they agree;
 * else a pointer to the rows (each row's basis is stored with it, GET /v1/batches/{id}/items).
 */
function lotBasis(lot: Judged['rows']): LegalBasis | null {
  const bases = lot.flatMap((r) => (r.legalBasis ? [JSON.stringify(r.legalBasis)] : []));
  if (!bases.length) return null;
  if (bases.length === lot.length && new Set(bases).size === 1) return lot[0]!.legalBasis;
  return { code: 'other', note: 'per row: see the batch items' };
}

function chunk<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
