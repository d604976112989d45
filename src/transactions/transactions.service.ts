/**
 * Reading, listing, cancelling and waiting for transactions. Operators see the
 * transactions they requested; admins see all; anything else is 404.
 */
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Principal } from '../auth/principal';
import { AppError, NotFoundError } from '../common/app-error';
import { paginate, PageQuery, type Page } from '../common/pagination';
import { AuditSink } from '../audit/audit-sink';
import { Transaction, type TxKind, type TxStatus } from './entities/transaction.entity';

export interface TransactionDto {
  id: string;
  tokenId: string | null;
  kind: TxKind;
  status: TxStatus;
  from: string;
  nonce: number | null;
  txHash: string | null;
  /** Earlier hashes signed for the same nonce and replaced by a fee bump (added field). */
  replacedTxHashes: string[];
  blockNumber: number | null;
  attempts: number;
  error: { code: string; message: string } | null;
  request: Record<string, unknown>;
  requestedBy: string;
  createdAt: string;
  updatedAt: string;
}

export function toTxDto(t: Transaction): TransactionDto {
  return {
    id: t.id,
    tokenId: t.tokenId,
    kind: t.kind,
    status: t.status,
    from: t.fromAddress,
    nonce: t.nonce,
    txHash: t.txHash,
    replacedTxHashes: t.replacedHashes ?? [],
    blockNumber: t.blockNumber === null ? null : Number(t.blockNumber),
    attempts: t.attempts,
    error: t.error,
    request: t.request,
    requestedBy: t.operatorId,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
  };
}

export interface TxFilter extends PageQuery {
  tokenId?: string;
  userId?: string;
  status?: TxStatus;
  kind?: TxKind;
  from?: string;
  to?: string;
}

export const FINAL: readonly TxStatus[] = ['confirmed', 'failed', 'cancelled'];

@Injectable()
export class TransactionsService {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditSink,
  ) {}

  async get(p: Principal, id: string): Promise<TransactionDto> {
    return toTxDto(await this.load(p, id));
  }

  list(p: Principal, q: TxFilter): Promise<Page<TransactionDto>> {
    const qb = this.ds.getRepository(Transaction).createQueryBuilder('t');
    if (p.type === 'operator') qb.andWhere('t.operator_id = :me', { me: p.id });
    if (q.tokenId) qb.andWhere('t.token_id = :tokenId', { tokenId: q.tokenId });
    if (q.userId) qb.andWhere('t.user_id = :userId', { userId: q.userId });
    if (q.status) qb.andWhere('t.status = :status', { status: q.status });
    if (q.kind) qb.andWhere('t.kind = :kind', { kind: q.kind });
    if (q.from) qb.andWhere('t.created_at >= :from', { from: q.from });
    if (q.to) qb.andWhere('t.created_at < :to', { to: q.to });
    return paginate(qb, q, toTxDto);
  }

  async cancel(p: Principal, id: string, requestId?: string): Promise<TransactionDto> {
    await this.load(p, id);
    const r = await this.ds.query<[unknown[], number]>(
      `UPDATE transactions SET status = 'cancelled', updated_at = now() WHERE id = $1 AND status = 'queued'`,
      [id],
    );
    if (!r[1]) throw new AppError('NOT_CANCELLABLE', 'Only a queued transaction can be cancelled');
    await this.audit.record({
      actor: { type: p.type, id: p.id },
      operatorId: p.type === 'operator' ? p.id : null,
      action: 'transaction.cancel',
      subject: { type: 'transaction', id },
      outcome: 'success',
      requestId,
    });
    return this.get(p, id);
  }

  /** Polls until the transaction is final or `seconds` pass. */
  async waitFinal(id: string, seconds: number): Promise<boolean> {
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const row = await this.ds.getRepository(Transaction).findOne({ where: { id }, select: { id: true, status: true } });
      if (row && FINAL.includes(row.status)) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async load(p: Principal, id: string): Promise<Transaction> {
    const t = await this.ds.getRepository(Transaction).findOneBy(p.type === 'operator' ? { id, operatorId: p.id } : { id });
    if (!t) throw new NotFoundError('Transaction');
    return t;
  }
}
