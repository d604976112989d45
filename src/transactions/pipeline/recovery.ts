/**
 * Stored transactions the node has not mined for a while, per signer and in nonce order: sent
 * again if the node does not know them, the lowest one's fee bumped once it counts as stuck
 * (only the lowest nonce can be mined next; every hash signed for a nonce is kept), and a row
 * re-queued when its nonce went to another transaction (seen twice, REBROADCAST_AFTER_MS apart).
 */
import { Injectable, Logger } from '@nestjs/common';
import {
  isAddressEqual,
  keccak256,
  parseTransaction,
  recoverTransactionAddress,
  type TransactionReceipt,
  type TransactionSerializedEIP1559,
} from 'viem';
import { ChainService } from '../../chain/chain.service';
import { FeePolicy } from '../../chain/fees';
import { firstLine } from '../../common/logging';
import { TransactionHooks } from '../hooks';
import { TransactionSigner } from '../transaction-signer';
import { PipelineRepository } from './pipeline.repository';
import { Broadcasting } from './broadcasting';
import { PipelineState } from './state';
import { tenantOf, type SubmittedRow } from './types';

const TAKEN_CONFIRMED_AFTER_MS = 5_000;

@Injectable()
export class Recovery {
  private readonly logger = new Logger('Pipeline');

  constructor(
    private readonly repo: PipelineRepository,
    private readonly chain: ChainService,
    private readonly fees: FeePolicy,
    private readonly signer: TransactionSigner,
    private readonly hooks: TransactionHooks,
    private readonly broadcasting: Broadcasting,
    private readonly state: PipelineState,
  ) {}

  /** The receipt of the current hash, or of any earlier one replaced by a fee bump: whichever was mined. */
  async receiptOf(r: Pick<SubmittedRow, 'tx_hash' | 'replaced_hashes'>): Promise<TransactionReceipt | undefined> {
    const hashes = [r.tx_hash, ...(r.replaced_hashes ?? [])];
    const found = await Promise.all(hashes.map((hash) => this.chain.pipeline.getTransactionReceipt({ hash }).catch(() => undefined)));
    return found.find((x) => x !== undefined);
  }

  async recover(rows: SubmittedRow[]): Promise<void> {
    try {
      await this.recoverUnmined(rows);
    } catch (e) {
      this.logger.warn(`recovering unmined transactions failed: ${firstLine(e)}`);
    }
  }

  private async recoverUnmined(rows: SubmittedRow[]): Promise<void> {
    const bySigner = new Map<`0x${string}`, SubmittedRow[]>();
    for (const r of rows) {
      const list = bySigner.get(r.from_address);
      if (list) list.push(r);
      else bySigner.set(r.from_address, [r]);
    }
    for (const [address, all] of bySigner) {
      // What this instance's queue has not sent yet is not lost: the queue sends it.
      const mine = all.filter((r) => !this.state.unsent.has(r.id)).sort((a, b) => a.nonce - b.nonce);
      if (!mine.length) continue;
      // The signer's mined count first, then the receipts again: a transaction of ours mined in
      // between is then seen, so "nonce used and no receipt" means another transaction took it.
      const mined = await this.chain.pipeline.getTransactionCount({ address, blockTag: 'latest' }).catch(() => undefined);
      if (mined === undefined) continue;
      this.state.mined.set(address, mined);
      const [receipts, known] = await Promise.all([
        Promise.all(mine.map((r) => this.receiptOf(r))),
        Promise.all(
          mine.map((r) =>
            this.chain.pipeline.getTransaction({ hash: r.tx_hash }).then(
              () => true,
              () => false,
            ),
          ),
        ),
      ]);
      const pending: Array<{ r: SubmittedRow; known: boolean }> = [];
      for (const [i, r] of mine.entries()) {
        if (receipts[i]) continue; // mined meanwhile: the next round confirms it
        if (r.nonce < mined) await this.nonceTaken(r);
        else pending.push({ r, known: known[i]! });
      }
      for (const p of pending) if (!p.known) await this.broadcasting.send(address, p.r.id, p.r.raw_tx);
      const lowest = pending[0];
      if (lowest?.known && Date.now() - new Date(lowest.r.submitted_at).getTime() > this.fees.stuckAfterMs)
        await this.replaceStuck(lowest.r);
    }
  }

  /** First seen with its nonce taken: remembered; still so TAKEN_CONFIRMED_AFTER_MS later: re-queued. */
  private async nonceTaken(r: SubmittedRow): Promise<void> {
    const since = this.state.taken.get(r.id);
    if (since === undefined) this.state.taken.set(r.id, Date.now());
    else if (Date.now() - since > TAKEN_CONFIRMED_AFTER_MS) {
      this.state.taken.delete(r.id);
      await this.requeue(r);
    }
  }

  /** The nonce went to a transaction that is not ours: this one can never be mined, so it is signed again with a new nonce. */
  private async requeue(r: SubmittedRow): Promise<void> {
    const problem = {
      code: 'NONCE_TAKEN',
      message: `nonce ${r.nonce} of ${r.from_address} was used by another transaction; signing again with a new nonce`,
    };
    const changed = await this.repo.transaction(async (em) => {
      const rows = await this.repo.requeue(em, r.id, r.tx_hash, problem);
      await this.hooks.changed(em, rows);
      return rows;
    });
    if (changed.length) {
      this.logger.warn(`transaction ${r.id}: nonce ${r.nonce} of ${r.from_address} was taken by another transaction; re-queued`);
      this.state.wakeSigning();
    }
  }

  /**
   * A transaction the node has not mined after TX_STUCK_AFTER_SECONDS is signed again with
   * the same nonce and fees raised by FEE_BUMP_PERCENT (capped); the earlier hash is kept in
   * replaced_hashes, so whichever of them is mined is recognised.
   */
  private async replaceStuck(row: SubmittedRow): Promise<void> {
    const old = parseTransaction(row.raw_tx);
    const { nonce, gas, maxFeePerGas, maxPriorityFeePerGas } = old;
    if (
      old.type !== 'eip1559' ||
      nonce === undefined ||
      gas === undefined ||
      maxFeePerGas === undefined ||
      maxPriorityFeePerGas === undefined
    )
      return;
    const fees = await this.fees.bump({ maxFeePerGas, maxPriorityFeePerGas });
    if (!fees) {
      this.logger.warn(`transaction ${row.id} is stuck at the fee cap (FEE_MAX_GWEI); not replaced`);
      return;
    }
    const sign = await this.signer.open({ kind: row.signer_kind, id: row.signer_id });
    const chainId = old.chainId ?? (await this.chain.chain()).id;
    const raw = await sign(
      { chainId, type: 'eip1559', nonce, to: old.to ?? undefined, data: old.data, gas, value: old.value ?? 0n, ...fees },
      {
        operatorId: tenantOf({ requestedByType: row.requested_by_type, operatorId: row.operator_id }),
        purpose: `fee bump ${row.kind} ${row.id}`,
      },
    );
    // The signer's key may have changed since it signed this row (a rotation whose old key could
    // not be opened revokes it first and moves on): bytes from another address at this nonce would
    // be a new transaction running the old call, not a replacement. Never stored, never sent.
    if (
      !isAddressEqual(await recoverTransactionAddress({ serializedTransaction: raw as TransactionSerializedEIP1559 }), row.from_address)
    ) {
      this.logger.warn(`transaction ${row.id}: its signer's key is no longer ${row.from_address}; the stuck transaction is not replaced`);
      return;
    }
    if (await this.repo.replace(row.id, row.tx_hash, keccak256(raw), raw)) {
      this.logger.log(`replaced stuck transaction ${row.id} (nonce ${nonce}) with a ${this.fees.bumpPercent}% fee bump`);
      await this.broadcasting.send(row.from_address, row.id, raw);
    }
  }
}
