/**
 * Reading, listing, cancelling and waiting for transactions, and the signers view. Firms see
 * the transactions they requested; admins see all; anything else is 404.
 */
import { Injectable } from '@nestjs/common';
import { getAddress } from 'viem';
import type { EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { actorOf, type Principal } from '../common/principal';
import { ChainService, ChainUnavailableError } from '../chain/chain.service';
import { Nonces } from '../chain/nonces';
import { AppError, NotFoundError } from '../common/app-error';
import { paginate, PageQuery, type Page } from '../common/pagination';
import { firmOf } from '../common/principal';
import { SealedKeyStores } from '../kms/sealed-key-stores';
import { toTxDto, type TransactionResponse } from './dto/transaction.response';
import type { LegalBasisCode, TxKind, TxStatus } from './entities/transaction.entity';
import { TransactionHooks } from './hooks';
import { FinalityWaiters } from './pipeline/waiters';
import type { ApprovalGiven } from './entities/transaction.entity';
import { tenantOf, type Problem } from './pipeline/types';
import { TransactionsRepository, type PendingRow } from './transactions.repository';

export type { PendingRow };

export interface TxFilter extends PageQuery {
  tokenId?: string;
  userId?: string;
  status?: TxStatus;
  kind?: TxKind;
  from?: string;
  to?: string;
  legalBasisCode?: LegalBasisCode;
  batchId?: string;
}

export interface SignerView {
  address: string;
  kind: string;
  ownerId: string;
  queued: number;
  oldestQueuedAt: string | null;
  nextNonce: number | null;
  gasBalance: string;
  held: boolean;
}

@Injectable()
export class TransactionsService {
  constructor(
    private readonly repo: TransactionsRepository,
    private readonly audit: AuditSink,
    private readonly hooks: TransactionHooks,
    private readonly waiters: FinalityWaiters,
    private readonly stores: SealedKeyStores,
    private readonly nonces: Nonces,
    private readonly chain: ChainService,
  ) {}

  async get(p: Principal, id: string): Promise<TransactionResponse> {
    const t = await this.repo.findOne(id, firmOf(p));
    if (!t) throw new NotFoundError('Transaction');
    return toTxDto(t);
  }

  /**
   * The firm's orders with a transaction still pending approval: one statement on the partial
   * pending-approval index (an order waiting for approval marks every one of its transactions
   * with its id, `holdForOrder`).
   */
  async ordersPendingApproval(operatorId: string): Promise<string[]> {
    const rows = await this.repo
      .query()
      .select(`DISTINCT t.request->>'orderId'`, 'orderId')
      .where('t.operator_id = :operatorId', { operatorId })
      .andWhere(`t.status = 'pending_approval'`)
      .andWhere(`t.request->>'orderId' IS NOT NULL`)
      .getRawMany<{ orderId: string }>();
    return rows.map((r) => r.orderId);
  }

  /** Every transaction of an order needing approval waits whole, marked as the order's (in the accepting transaction). */
  holdForOrder(em: EntityManager, orderId: string, txIds: readonly string[], required: number): Promise<void> {
    return this.repo.holdForOrder(em, orderId, txIds, required);
  }

  /** Those of `txIds` still pending approval, in id order (the head first). */
  pendingAmong(em: EntityManager, txIds: readonly string[]): Promise<string[]> {
    return this.repo.pendingAmong(em, txIds);
  }

  /** A batch's lots still pending approval, in id order (the head first). */
  pendingOfBatch(em: EntityManager, batchId: string): Promise<string[]> {
    return this.repo.pendingOfBatch(em, batchId);
  }

  /**
   * An external signer's execution recognised by its effect on chain: the `awaiting_signature`
   * row ends `confirmed` at `block` in `em`, with the transition hooks and audit of a mined
   * receipt (kagi never saw its hash). False when it was not awaiting a signature any more.
   */
  async confirmAwaiting(em: EntityManager, id: string, block: bigint): Promise<boolean> {
    const changed = await this.repo.confirmAwaiting(em, id, block);
    if (!changed.length) return false;
    await this.hooks.changed(em, changed);
    await this.waiters.announce(em);
    await this.audit.record(
      {
        actor: { type: 'system' },
        operatorId: tenantOf(changed[0]!),
        action: 'transaction.confirmed',
        subject: { type: 'transaction', id },
        outcome: 'success',
        details: { blockNumber: block.toString(), executedBy: 'external-signer' },
      },
      em,
    );
    return true;
  }

  /** The rows one request created, tagged `request.requestGroup` (an emergency pause's, for its Idempotency-Key replay), in creation order. */
  async ofRequestGroup(group: string): Promise<TransactionResponse[]> {
    const rows = await this.repo
      .query()
      .where(`t.request->>'requestGroup' = :group`, { group })
      .orderBy('t.created_at', 'ASC')
      .addOrderBy('t.id', 'ASC')
      .getMany();
    return rows.map(toTxDto);
  }

  list(p: Principal, q: TxFilter): Promise<Page<TransactionResponse>> {
    const qb = this.repo.query();
    const firm = firmOf(p);
    if (firm) qb.andWhere('t.operator_id = :me', { me: firm });
    if (q.tokenId) qb.andWhere('t.token_id = :tokenId', { tokenId: q.tokenId });
    if (q.userId) qb.andWhere('t.user_id = :userId', { userId: q.userId });
    if (q.status) qb.andWhere('t.status = :status', { status: q.status });
    if (q.kind) qb.andWhere('t.kind = :kind', { kind: q.kind });
    if (q.from) qb.andWhere('t.created_at >= :from', { from: q.from });
    if (q.to) qb.andWhere('t.created_at < :to', { to: q.to });
    if (q.legalBasisCode) qb.andWhere(`t.legal_basis->>'code' = :code`, { code: q.legalBasisCode });
    if (q.batchId) qb.andWhere('t.batch_id = :batchId', { batchId: q.batchId });
    return paginate(qb, q, toTxDto);
  }

  async cancel(p: Principal, id: string, requestId?: string): Promise<TransactionResponse> {
    await this.get(p, id);
    await this.repo.transaction(async (em) => {
      const changed = await this.repo.cancel(em, id, ['queued', 'pending_approval']);
      if (!changed.length) throw new AppError('NOT_CANCELLABLE', 'Only a transaction pending approval or queued can be cancelled');
      await this.hooks.changed(em, changed);
      await this.waiters.announce(em);
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId: firmOf(p),
          action: 'transaction.cancel',
          subject: { type: 'transaction', id },
          outcome: 'success',
          requestId,
        },
        em,
      );
    });
    this.waiters.wake();
    return this.get(p, id);
  }

  /**
   * In the caller's transaction (a suspension or a key revocation): the requester's queued and
   * pending requests end `cancelled` with `code`, each change announced and audited as `system`.
   */
  async cancelRequestsOf(
    em: EntityManager,
    operatorId: string,
    who: { staffId: string } | { apiKeyId: string },
    code: 'ACCOUNT_SUSPENDED' | 'UNAUTHENTICATED',
  ): Promise<number> {
    const message = 'staffId' in who ? 'the requester was suspended' : 'the API key that made the request was revoked';
    const changed = await this.repo.cancelRequestsOf(em, operatorId, who, { code, message });
    if (!changed.length) return 0;
    await this.hooks.changed(em, changed);
    await this.waiters.announce(em);
    await this.audit.recordMany(
      changed.map((t) => ({
        actor: { type: 'system' as const },
        operatorId,
        action: 'transaction.cancel',
        subject: { type: 'transaction', id: t.id },
        outcome: 'success' as const,
        details: { reason: code, ...who },
      })),
      em,
    );
    return changed.length;
  }

  /** The Transaction once it is final, undefined after `seconds`. */
  waitFinal(id: string, seconds: number): Promise<TransactionResponse | undefined> {
    return this.waiters.wait(id, seconds);
  }

  /** Every signing key with its queue depth, next nonce, gas and hold (admins). */
  async signers(): Promise<{ items: SignerView[] }> {
    const owners = (await Promise.all(this.stores.all().map(async (s) => (await s.owners()).map((o) => ({ ...o, kind: s.kind }))))).flat();
    owners.sort((a, b) => a.kind.localeCompare(b.kind) || a.address.localeCompare(b.address));
    const [stats, held, nonces, gas] = await Promise.all([
      this.repo.queueStats(),
      this.repo.heldAddresses(),
      this.nonces.nextOf(
        this.repo.manager,
        owners.map((o) => o.address),
      ),
      Promise.all(owners.map((o) => this.chain.client.getBalance({ address: getAddress(o.address) }))).catch(() => {
        throw new ChainUnavailableError();
      }),
    ]);
    return {
      items: owners.map((o, i) => {
        const s = stats.get(o.address);
        return {
          address: o.address,
          kind: o.kind,
          ownerId: o.id,
          queued: s?.queued ?? 0,
          oldestQueuedAt: s?.oldest ? new Date(s.oldest).toISOString() : null,
          nextNonce: nonces.get(o.address) ?? null,
          gasBalance: gas[i]!.toString(),
          held: held.has(o.address),
        };
      }),
    };
  }

  // ---- approval decisions (taken by src/approvals; the row and its transitions are this module's) ----

  transaction<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.repo.transaction(fn);
  }

  /** The firm's transaction locked for a decision (undefined: unknown or foreign). */
  lockForApproval(em: EntityManager, id: string, operatorId: string, ttlSeconds: number): Promise<PendingRow | undefined> {
    return this.repo.lockForApproval(em, id, operatorId, ttlSeconds);
  }

  recordApprovals(em: EntityManager, id: string, given: readonly ApprovalGiven[]): Promise<void> {
    return this.repo.recordApprovals(em, id, given);
  }

  /** The last approval queues the row (false: it was no longer pending). */
  async releaseApproved(
    em: EntityManager,
    id: string,
    given: readonly ApprovalGiven[],
    call: { args: Record<string, unknown>; debitAddress: string | null; debitAmount: string | null },
  ): Promise<boolean> {
    const changed = await this.repo.releaseApproved(em, id, given, call);
    await this.hooks.changed(em, changed);
    return changed.length > 0;
  }

  /** Ends a pending row as failed, rejected or expired (false: it was no longer pending); waiters hear it at commit. */
  async endPending(
    em: EntityManager,
    id: string,
    status: 'failed' | 'rejected' | 'expired',
    error: Problem | null,
    given?: readonly ApprovalGiven[],
  ): Promise<boolean> {
    const changed = await this.repo.endPending(em, id, status, error, given);
    await this.hooks.changed(em, changed);
    if (changed.length) await this.waiters.announce(em);
    return changed.length > 0;
  }

  /** After a decision's commit: local waiters look again. */
  wakeWaiters(): void {
    this.waiters.wake();
  }
}
