/**
 * The transaction queue's side of the audit anchorer's port (audit/anchor-queue.ts): an anchor
 * is a row of kind and signer kind `audit-anchor`, requested by kagi for the platform (no firm:
 * its audit and webhook events are the platform's, admins list it), signed by the anchor key
 * through the TransactionSigner port like every other row. Its call is built at signing: the
 * digest as data, to the anchor key's own address, 0 value.
 */
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { ANCHOR_KIND, type AnchorOutcome, type AnchorQueue, type AnchorRequest } from '../audit/anchor-queue';
import { AuditAnchorer } from '../audit/audit-anchorer';
import { FINAL_STATUSES } from './entities/transaction.entity';
import { TransactionHooks, type BuiltCall } from './hooks';
import type { QueuedRow } from './pipeline/types';
import { TransactionQueue } from './queue';
import { TransactionsRepository } from './transactions.repository';

@Injectable()
export class AuditAnchorQueue implements AnchorQueue, OnModuleInit {
  constructor(
    private readonly queue: TransactionQueue,
    private readonly repo: TransactionsRepository,
    private readonly hooks: TransactionHooks,
    private readonly anchorer: AuditAnchorer,
  ) {}

  onModuleInit(): void {
    this.hooks.setCallBuilderFor(ANCHOR_KIND, { build: (rows) => Promise.resolve(rows.map(anchorCall)) });
    this.anchorer.useQueue(this);
  }

  async enqueue(em: EntityManager, r: AnchorRequest): Promise<void> {
    await this.queue.enqueue(em, r.id, {
      tokenId: null,
      kind: ANCHOR_KIND,
      principal: { type: 'platform' },
      signer: { kind: ANCHOR_KIND, id: r.key.id, address: r.key.address },
      to: r.key.address,
      args: { digest: r.digest },
      request: { digest: r.digest, heads: r.heads },
    });
  }

  wake(): void {
    this.queue.wake();
  }

  async outcome(id: string): Promise<AnchorOutcome> {
    const t = await this.repo.findOne(id, null);
    if (!t) return { state: 'ended', reason: 'the transaction is gone' };
    if (t.status === 'confirmed' && t.txHash && t.blockNumber !== null)
      return { state: 'confirmed', txHash: t.txHash, blockNumber: t.blockNumber };
    if (FINAL_STATUSES.includes(t.status)) return { state: 'ended', reason: `${t.status}${t.error ? `: ${t.error.code}` : ''}` };
    return { state: 'pending' };
  }
}

/** An anchor row's call: its digest as the data of a transaction to the anchor key's own address. */
function anchorCall(r: QueuedRow): BuiltCall {
  const digest = r.callArgs?.digest;
  if (typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest))
    return { failed: true, code: 'INTERNAL', message: 'the anchor transaction carries no digest' };
  return { to: r.fromAddress, data: `0x${digest}` };
}
