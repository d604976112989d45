/**
 * The transaction queue API, for modules that request chain work (tokens today; batches,
 * governance, audit anchors next): enqueue a row in the caller's database transaction, with its
 * audit event in the same statement; the debit bookkeeping pre-checks need; wake-ups. The call
 * is built when the row is signed (hooks.ts), so nothing here encodes calldata.
 */
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { actorOf, type Principal } from '../common/principal';
import { firmOf } from '../common/principal';
import { toTxDto, type TransactionResponse } from './dto/transaction.response';
import type { LegalBasis, RequestedBy, Transaction, TxKind, TxStatus } from './entities/transaction.entity';
import { TransactionHooks } from './hooks';
import { Pipeline } from './pipeline/pipeline';
import { TransactionsRepository } from './transactions.repository';

/**
 * Who asks: a principal, or kagi itself (`system`) on behalf of a firm (a lost wallet's freeze,
 * rotation steps), or kagi for the platform itself (`platform`: audit anchors; no firm, listed to admins).
 */
type Requester = Principal | { type: 'system'; onBehalfOf: string } | { type: 'platform' };

export interface QueueRequest {
  tokenId: string | null;
  kind: TxKind;
  principal: Requester;
  userId?: string | null;
  signer: { kind: Transaction['signerKind']; id: string; address: `0x${string}` };
  /** The contract called (null for a deployment). */
  to: `0x${string}` | null;
  /** The call's resolved arguments (JSON: amounts as decimal strings), built into calldata at signing. */
  args: Record<string, unknown>;
  /** The request as the client sees it in the Transaction. */
  request: Record<string, unknown>;
  /** What the operation takes from `address`, for later pre-checks. */
  debit?: { address: string; amount: bigint };
  /** The legal basis of a coercive operation (system requests without one: `regulatory`, a lost wallet's freeze `lost-key`). */
  legalBasis?: LegalBasis | null;
  /** > 0: stored `pending_approval` (nothing reserved, nothing signed) until that many checkers approve. */
  approvalsRequired?: number;
  /** Signed outside kagi (an external governance signer): stored `awaiting_signature` with this call; no pipeline claims it. */
  awaitingSignature?: { callData: `0x${string}` };
}

/** The basis kagi sets on what it starts itself. */
const systemBasis = (kind: TxKind): LegalBasis => (kind === 'freeze' ? { code: 'lost-key' } : { code: 'regulatory' });

function requesterOf(r: Requester): RequestedBy {
  if (r.type === 'platform') return { type: 'system', id: 'kagi' };
  if (r.type === 'system') return { type: 'system', id: 'kagi', onBehalfOf: r.onBehalfOf };
  if (r.type === 'admin') return { type: 'admin', id: r.id };
  if (r.via === 'api-key') return { type: 'api-key', id: r.apiKeyId ?? r.id, ...(r.ownerStaffId ? { ownerStaffId: r.ownerStaffId } : {}) };
  return { type: 'staff', id: r.id };
}

@Injectable()
export class TransactionQueue {
  constructor(
    private readonly repo: TransactionsRepository,
    private readonly audit: AuditSink,
    private readonly hooks: TransactionHooks,
    private readonly pipeline: Pipeline,
  ) {}

  /**
   * Stores a queued (or `pending_approval`) row and its audit event in one statement; answers
   * the Transaction without reading it back.
   */
  async enqueue(em: EntityManager, id: string, q: QueueRequest): Promise<TransactionResponse> {
    const r = q.principal;
    const firm = r.type === 'system' ? r.onBehalfOf : r.type === 'platform' ? null : firmOf(r);
    const bySystem = r.type === 'system' || r.type === 'platform';
    const approvalsRequired = q.approvalsRequired ?? 0;
    const status = q.awaitingSignature
      ? ('awaiting_signature' as const)
      : approvalsRequired > 0
        ? ('pending_approval' as const)
        : ('queued' as const);
    const legalBasis = q.legalBasis ?? (bySystem ? systemBasis(q.kind) : null);
    const row = {
      id,
      tokenId: q.tokenId,
      kind: q.kind,
      status,
      operatorId: firm ?? (r.type === 'system' ? r.onBehalfOf : r.type === 'platform' ? q.signer.id : r.id),
      requestedByType: r.type,
      userId: q.userId ?? null,
      signerKind: q.signer.kind,
      signerId: q.signer.id,
      fromAddress: q.signer.address,
      toAddress: q.to,
      callArgs: q.args,
      callData: q.awaitingSignature?.callData ?? null,
      debitAddress: q.debit?.address ?? null,
      debitAmount: q.debit ? q.debit.amount.toString() : null,
      request: q.request,
      requestedBy: requesterOf(r),
      legalBasis,
      approvalsRequired,
    };
    const [stamps] = await this.audit.recordWith<{ created_at: Date; updated_at: Date }>(
      {
        actor: bySystem ? { type: 'system' } : actorOf(r),
        operatorId: firm,
        action: `transaction.${status}`,
        subject: { type: 'transaction', id },
        outcome: 'success',
        details: {
          kind: q.kind,
          tokenId: q.tokenId,
          ...(legalBasis ? { legalBasis } : {}),
          ...(approvalsRequired ? { approvalsRequired } : {}),
        },
      },
      this.repo.insertStatement(row),
      em,
    );
    const whole = {
      ...row,
      callArgs: q.args,
      batchId: null,
      nonce: null,
      txHash: null,
      replacedHashes: null,
      blockNumber: null,
      approvalsGiven: [],
      attempts: 0,
      error: null,
      createdAt: stamps!.created_at,
      updatedAt: stamps!.updated_at,
    };
    await this.hooks.changed(em, [whole]);
    return toTxDto(whole);
  }

  /** After the caller's commit: start signing now rather than at the next poll. */
  wake(): void {
    this.pipeline.wake();
  }

  /** Serialises the debits of one (token, address) until `em` commits. */
  lockDebits(em: EntityManager, tokenId: string, address: string): Promise<void> {
    return this.repo.lockDebits(em, tokenId, address);
  }

  /** Marks rows just enqueued in `em` as lots of a batch. */
  assignBatch(em: EntityManager, ids: readonly string[], batchId: string): Promise<void> {
    return this.repo.assignBatch(em, ids, batchId);
  }

  /** The recorded error of each row that has one (a failed lot's reason, for its batch rows). */
  errorsOf(em: EntityManager, ids: readonly string[]): Promise<Map<string, { code: string; message: string }>> {
    return this.repo.errorsOf(em, ids);
  }

  /** lockDebits for many addresses at once (in a fixed order, so two batches cannot deadlock). */
  lockDebitsMany(em: EntityManager, tokenId: string, addresses: readonly string[]): Promise<void> {
    return this.repo.lockDebitsMany(em, tokenId, addresses);
  }

  /** pendingDebits for many addresses in one statement. */
  pendingDebitsMany(
    em: EntityManager | undefined,
    tokenId: string,
    addresses: readonly string[],
    at: bigint,
  ): Promise<Map<string, bigint>> {
    return this.repo.pendingDebitsMany(em ?? this.repo.manager, tokenId, addresses, at);
  }

  /** Debits of `address` not yet in its balance as of block `at`. */
  pendingDebits(em: EntityManager | undefined, tokenId: string, address: string, at: bigint): Promise<bigint> {
    return this.repo.pendingDebits(em ?? this.repo.manager, tokenId, address, at);
  }

  /** A user's custody withdrawals not yet final. */
  pendingWithdrawals(em: EntityManager | undefined, tokenId: string, operatorId: string, userId: string): Promise<bigint> {
    return this.repo.pendingWithdrawals(em ?? this.repo.manager, tokenId, operatorId, userId);
  }

  /** Net confirmed custody movements per user up to block `at`. */
  custodyAt(tokenId: string, at: bigint): Promise<Map<string, string>> {
    return this.repo.custodyAt(tokenId, at);
  }

  /** The status of the latest `system` freeze of `address` on the token (the lost-wallet freeze), if any. */
  latestSystemFreeze(em: EntityManager, tokenId: string, address: string): Promise<string | undefined> {
    return this.repo.latestSystemFreeze(em, tokenId, address);
  }

  /** True while a deposit, withdrawal or custody migration of the firm is not final. */
  custodyInFlight(operatorId: string): Promise<boolean> {
    return this.repo.custodyInFlight(operatorId);
  }

  /** The current status of each row (governance and rotation steps wait on their rows). */
  statusesOf(ids: readonly string[]): Promise<Map<string, TxStatus>> {
    return this.repo.statusesOf(ids);
  }

  /** Holds a signer's queue (nothing new is signed) until released: key rotation. */
  hold(address: string, reason: string): Promise<void> {
    return this.repo.hold(address, reason);
  }

  release(address: string): Promise<void> {
    return this.repo.release(address);
  }

  /** Serialises the approval-policy windows of one (firm, token) until `em` commits. */
  lockWindow(em: EntityManager, operatorId: string, tokenId: string): Promise<void> {
    return this.repo.lockWindow(em, operatorId, tokenId);
  }

  /** The firm's accepted and pending requests of `kinds` on the token in the last `seconds`. */
  windowSum(em: EntityManager, operatorId: string, tokenId: string, kinds: readonly string[], seconds: number): Promise<bigint> {
    return this.repo.windowSum(em, operatorId, tokenId, kinds, seconds);
  }

  /** Key rotation's last step, in one transaction: unsigned rows move to the new address and the old address's hold goes. */
  async moveQueue(em: EntityManager, oldAddress: string, newAddress: string): Promise<number> {
    const n = await this.repo.repoint(em, oldAddress, newAddress);
    await this.repo.releaseIn(em, oldAddress);
    return n;
  }

  /** How many rows the address signed that are not final yet (a rotation settles them first). */
  inFlightFrom(address: string): Promise<number> {
    return this.repo.inFlightFrom(address);
  }

  /** The rows `address` signed that are not final yet, with their nonces (a rotation consumes the stuck ones). */
  async signedInFlightFrom(address: string): Promise<Array<{ id: string; nonce: number }>> {
    return this.repo.manager.query<Array<{ id: string; nonce: number }>>(
      `SELECT id, nonce FROM transactions WHERE from_address = $1 AND status = 'submitted' ORDER BY nonce`,
      [address],
    );
  }
}
