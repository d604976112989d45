/**
 * Stage 3, receipts: `confirmed` after CHAIN_CONFIRMATIONS (or `failed` with the decoded
 * reason), asked only for rows sent and once per block. Every outcome of a round is written in
 * one database transaction together with what it changes in kagi's state (finality handlers,
 * transition hooks and audit events run in that same transaction). Rows the node has not mined
 * for a while go to recovery (re-broadcast, fee bump, re-queue) — also after a restart, so every
 * accepted transaction ends on chain exactly once.
 */
import { Injectable } from '@nestjs/common';
import type { TransactionReceipt } from 'viem';
import { AuditSink, type AuditRecord } from '../../audit/audit-sink';
import { ChainService } from '../../chain/chain.service';
import { decodeRevert } from '../../chain/contracts/revert-decoder';
import { AppConfig } from '../../config/app-config';
import { TransactionHooks } from '../hooks';
import { PipelineRepository } from './pipeline.repository';
import { Recovery } from './recovery';
import { PipelineState } from './state';
import { FinalityWaiters } from './waiters';
import { tenantOf, type Problem, type SubmittedRow } from './types';

const RECEIPTS_PER_ROUND = 1000;
const REBROADCAST_AFTER_MS = 5_000;
/** A submitted row this instance has not sent: another instance (or a crashed one) sent it, or it will. */
const SENT_ELSEWHERE_MS = 2_000;

@Injectable()
export class Receipts {
  constructor(
    private readonly repo: PipelineRepository,
    private readonly chain: ChainService,
    private readonly hooks: TransactionHooks,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
    private readonly recovery: Recovery,
    private readonly state: PipelineState,
    private readonly waiters: FinalityWaiters,
  ) {}

  async round(): Promise<boolean> {
    const { sent, taken } = this.state;
    // With sends of this instance outstanding (a send just woke this round) the head is read
    // beside the rows rather than after them; an idle poll reads only the rows.
    const headRead = () => this.chain.pipeline.getBlockNumber().catch(() => undefined);
    const early = sent.size ? headRead() : undefined;
    const rows = await this.repo.submitted(RECEIPTS_PER_ROUND, this.state.scope);
    if (!rows.length) {
      sent.clear();
      taken.clear();
      return false;
    }
    const head = await (early ?? headRead());
    if (head === undefined) return false;
    if (rows.length < RECEIPTS_PER_ROUND) {
      const listed = new Set(rows.map((r) => r.id));
      for (const id of sent.keys()) if (!listed.has(id)) sent.delete(id); // final elsewhere
      for (const id of taken.keys()) if (!listed.has(id)) taken.delete(id);
    }
    const now = Date.now();
    const due: SubmittedRow[] = [];
    // Seen unmined at this head already: no block since, so still unmined.
    const unmined: SubmittedRow[] = [];
    for (const r of rows) {
      const seenUnminedAt = sent.get(r.id);
      if (seenUnminedAt === undefined ? now - new Date(r.submitted_at).getTime() > SENT_ELSEWHERE_MS : seenUnminedAt < head) due.push(r);
      else if (seenUnminedAt !== undefined && seenUnminedAt >= head) unmined.push(r);
    }
    const receipts = await Promise.all(due.map((r) => this.recovery.receiptOf(r)));
    const done: Array<{ r: SubmittedRow; receipt: TransactionReceipt }> = [];
    for (const [i, r] of due.entries()) {
      const receipt = receipts[i];
      if (!receipt) {
        unmined.push(r);
        sent.set(r.id, head);
      } else if (head - receipt.blockNumber + 1n >= BigInt(this.config.chain.confirmations)) done.push({ r, receipt });
      else sent.set(r.id, head); // mined, waiting for CHAIN_CONFIRMATIONS: asked again at the next block
    }
    await this.confirm(done);
    for (const { r } of done) sent.delete(r.id);
    const waiting = unmined.filter((r) => now - new Date(r.submitted_at).getTime() > REBROADCAST_AFTER_MS);
    await this.recovery.recover(waiting);
    return rows.length === RECEIPTS_PER_ROUND && done.length > 0;
  }

  /** Every receipt of the round in one database transaction, with what it changes in kagi's state. */
  private async confirm(done: Array<{ r: SubmittedRow; receipt: TransactionReceipt }>): Promise<void> {
    if (!done.length) return;
    const reasons = await Promise.all(
      done.map(async ({ receipt }) => (receipt.status === 'success' ? undefined : this.revertReason(receipt))),
    );
    const finals = done.map(({ r, receipt }, i) => ({
      id: r.id,
      status: receipt.status === 'success' ? ('confirmed' as const) : ('failed' as const),
      block: receipt.blockNumber.toString(),
      hash: receipt.transactionHash,
      contract: receipt.contractAddress ?? undefined,
      error: reasons[i] ?? null,
    }));
    const changed = await this.repo.transaction(async (em) => {
      const updated = await this.repo.finalize(em, finals);
      const byId = new Map(finals.map((f) => [f.id, f]));
      for (const tx of updated) tx.contractAddress = byId.get(tx.id)?.contract;
      await this.hooks.changed(em, updated);
      if (updated.length) await this.waiters.announce(em);
      await this.audit.recordMany(
        updated.map((tx) => {
          const f = byId.get(tx.id)!;
          return {
            actor: { type: 'system' },
            operatorId: tenantOf(tx),
            action: `transaction.${f.status}`,
            subject: { type: 'transaction', id: tx.id },
            outcome: f.status === 'confirmed' ? 'success' : 'failure',
            details: { txHash: f.hash, blockNumber: f.block },
          } satisfies AuditRecord;
        }),
        em,
      );
      return updated;
    });
    this.state.count(changed);
    if (changed.length) this.waiters.wake();
  }

  /** A mined revert carries no reason: the call is replayed on the state before its block (best effort). */
  private async revertReason(receipt: TransactionReceipt): Promise<Problem> {
    const generic = { code: 'REVERTED', message: 'the transaction reverted on chain' };
    try {
      const tx = await this.chain.pipeline.getTransaction({ hash: receipt.transactionHash });
      await this.chain.pipeline.call({
        account: tx.from,
        to: tx.to ?? undefined,
        data: tx.input,
        gas: tx.gas,
        blockNumber: receipt.blockNumber - 1n,
      });
      return generic; // the replay passed: the state the transaction met differed from its parent block's
    } catch (e) {
      const d = decodeRevert(e);
      return d.code === 'REVERTED' ? generic : { code: d.code, message: d.message };
    }
  }
}
