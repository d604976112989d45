/**
 * The signing pipeline (design.md "Transaction pipeline"). Per signer, in order:
 * claim queued rows (advisory lock per signer, so instances share work without
 * overlap) → re-check the requester (active, still granted) → allocate the nonce under
 * a row lock → open the key, sign → store raw transaction and hash (commit) → broadcast
 * → `submitted`. A receipt watcher marks `confirmed`/`failed`, and re-broadcasts stored
 * transactions that are not mined yet (this is also the crash recovery: after a
 * restart, stored signed transactions are sent again and the queue resumes).
 * KMS or chain outages keep rows queued with `error` filled and a backoff; never dropped.
 */
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { BaseError, keccak256, parseTransaction, type Hex, type TransactionReceipt } from 'viem';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { ChainService } from '../chain/chain.service';
import { decodeRevert } from '../chain/contracts/revert-decoder';
import { AppConfig } from '../config/app-config';
import { Metrics } from '../health/metrics';
import { IssuersService } from '../issuers/issuers.service';
import { KeyIntegrityError, KmsUnavailableError } from '../kms/key-management';
import type { SealedKey } from '../kms/sealed-key';
import { SigningKeys } from '../kms/signing-keys';
import { OperatorsService } from '../operators/operators.service';
import { Transaction } from './entities/transaction.entity';
import { TokenActivation } from './token-activation';

const BATCH = 100;
const PARALLEL_SIGNERS = 6;
const REBROADCAST_AFTER_MS = 5_000;

type Outcome = { kind: 'signed' } | { kind: 'failed'; code: string; message: string } | { kind: 'retry'; code: string; message: string };

function isOutOfGas(e: unknown): boolean {
  return e instanceof Error && /insufficient funds/i.test(e.message);
}

@Injectable()
export class Pipeline implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Pipeline');
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private wakeRequested = false;
  private readonly outcomes;

  constructor(
    private readonly ds: DataSource,
    private readonly chain: ChainService,
    private readonly keys: SigningKeys,
    private readonly operators: OperatorsService,
    private readonly issuers: IssuersService,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
    private readonly activation: TokenActivation,
    metrics: Metrics,
  ) {
    this.outcomes = metrics.counter('kagi_transactions_total', 'Transactions by final status', ['status']);
  }

  onApplicationBootstrap(): void {
    if (this.config.offline) return;
    this.schedule(0);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Called after a row is queued, for latency; the poll loop is the safety net. */
  wake(): void {
    this.wakeRequested = true;
    if (!this.running && this.timer) {
      clearTimeout(this.timer);
      this.schedule(0);
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.wakeRequested = false;
      this.running = this.tick()
        .catch((e: unknown) => this.logger.warn(`pipeline tick failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`))
        .finally(() => {
          this.running = undefined;
          this.schedule(this.wakeRequested || this.busy ? 0 : 200);
        });
    }, ms);
  }

  /** True while the last tick found work: the next one starts at once instead of after the poll interval. */
  private busy = false;

  async tick(): Promise<void> {
    const signers = await this.ds.query<Array<{ from_address: string }>>(
      `SELECT DISTINCT from_address FROM transactions WHERE status = 'queued' AND next_attempt_at <= now()`,
    );
    // Only queued work makes the loop go again at once; waiting for receipts keeps the poll interval.
    this.busy = signers.length > 0;
    // Signers run in parallel, a bounded number at a time: each holds one pooled connection
    // for its transaction and briefly needs a second one for authority re-checks.
    for (let i = 0; i < signers.length; i += PARALLEL_SIGNERS) {
      await Promise.all(signers.slice(i, i + PARALLEL_SIGNERS).map((s) => this.processSigner(s.from_address as `0x${string}`)));
    }
    await this.watchReceipts();
  }

  private async processSigner(address: `0x${string}`): Promise<void> {
    const toBroadcast: Array<{ id: string; raw: Hex }> = [];
    await this.ds.transaction(async (em) => {
      const [lock] = await em.query<Array<{ ok: boolean }>>(`SELECT pg_try_advisory_xact_lock(hashtext('kagi-signer:' || $1)) AS ok`, [address]);
      if (!lock?.ok) return; // another instance works on this signer now
      const rows = await em.query<Array<{ id: string }>>(
        `SELECT id FROM transactions WHERE from_address = $1 AND status = 'queued' AND next_attempt_at <= now() ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [address, BATCH],
      );
      if (!rows.length) return;
      let nonce = await this.allocateNonce(em, address);
      const chain = await this.chain.chain().catch(() => undefined);
      // One fee quote per batch (the fee policy: the node's EIP-1559 estimate).
      const fees = chain ? await this.feeQuote() : undefined;
      const txs = await em.getRepository(Transaction).find({ where: rows.map((r) => ({ id: r.id })) });
      const byId = new Map(txs.map((t) => [t.id, t]));
      const memo = new Map<string, Promise<unknown>>();
      // Fast path: estimate every row of the batch at once against the pre-batch state.
      // A row whose estimate fails here is estimated again, in order, right before signing.
      const estimates = new Map<string, bigint>();
      if (chain && fees) {
        for (let i = 0; i < txs.length; i += 16) {
          await Promise.all(
            txs.slice(i, i + 16).map(async (t) => {
              const g = await this.chain.client.estimateGas({ account: t.fromAddress, to: t.toAddress ?? undefined, data: t.callData }).catch(() => undefined);
              // Margin for state the earlier rows of the batch change (e.g. a balance slot written from zero).
              if (g !== undefined) estimates.set(t.id, (g * 13n) / 10n + 30_000n);
            }),
          );
        }
      }
      const signed: Array<{ id: string; nonce: number; hash: Hex; raw: Hex }> = [];
      for (const { id } of rows) {
        const tx = byId.get(id)!;
        const outcome = chain && fees ? await this.signOne(tx, nonce, chain.id, fees, signed, memo, estimates.get(id)) : ({ kind: 'retry', code: 'CHAIN_UNAVAILABLE', message: 'the chain node could not be reached' } as Outcome);
        if (outcome.kind === 'signed') {
          nonce++;
          continue;
        }
        if (outcome.kind === 'failed') {
          await em.query(`UPDATE transactions SET status = 'failed', error = $2, attempts = attempts + 1, updated_at = now() WHERE id = $1`, [id, { code: outcome.code, message: outcome.message }]);
          await this.activation.onFinal(em, tx, 'failed');
          this.outcomes.inc({ status: 'failed' });
          await this.audit.record({ actor: { type: 'system' }, operatorId: tx.requestedByType === 'operator' ? tx.operatorId : null, action: 'transaction.failed', subject: { type: 'transaction', id }, outcome: 'failure', details: { code: outcome.code } }, em);
          continue;
        }
        // Retryable: keep this and every later row of the signer queued (order is kept).
        // (the rows signed before it are stored below and broadcast)
        await em.query(
          `UPDATE transactions SET error = $2, attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => LEAST(30, power(2, LEAST(attempts, 5)))), updated_at = now() WHERE id = $1`,
          [id, { code: outcome.code, message: outcome.message }],
        );
        break;
      }
      if (signed.length) {
        // The raw signed transactions and their hashes, stored in one statement before any broadcast.
        await em.query(
          `UPDATE transactions t SET status = 'submitted', nonce = v.nonce, tx_hash = v.hash, raw_tx = v.raw, error = NULL, attempts = t.attempts + 1, submitted_at = now(), updated_at = now()
             FROM (SELECT unnest($1::uuid[]) AS id, unnest($2::int[]) AS nonce, unnest($3::text[]) AS hash, unnest($4::text[]) AS raw) v
            WHERE t.id = v.id`,
          [signed.map((x) => x.id), signed.map((x) => x.nonce), signed.map((x) => x.hash), signed.map((x) => x.raw)],
        );
        for (const x of signed) toBroadcast.push({ id: x.id, raw: x.raw });
      }
      await em.query(`UPDATE signer_nonces SET next_nonce = $2 WHERE address = $1`, [address, nonce]);
    });
    // Broadcast only after the signed bytes are committed.
    for (const b of toBroadcast) await this.broadcast(b.id, b.raw);
  }

  /** The fee policy: the node's EIP-1559 estimate, capped at FEE_MAX_GWEI. */
  private async feeQuote(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | undefined> {
    const est = await this.chain.client.estimateFeesPerGas().catch(() => undefined);
    if (!est) return undefined;
    const cap = this.config.chain.fees.maxFeeWei;
    const maxFeePerGas = est.maxFeePerGas > cap ? cap : est.maxFeePerGas;
    const maxPriorityFeePerGas = est.maxPriorityFeePerGas > maxFeePerGas ? maxFeePerGas : est.maxPriorityFeePerGas;
    return { maxFeePerGas, maxPriorityFeePerGas };
  }

  /**
   * A transaction the node has not mined after TX_STUCK_AFTER_SECONDS is signed again with
   * the same nonce and fees raised by FEE_BUMP_PERCENT (capped); the earlier hash is kept in
   * replaced_hashes, so whichever of them is mined is recognised.
   */
  private async replaceStuck(row: { id: string; tx_hash: Hex; raw_tx: Hex }): Promise<void> {
    const tx = await this.ds.getRepository(Transaction).findOneByOrFail({ id: row.id });
    const old = parseTransaction(row.raw_tx);
    if (old.type !== 'eip1559' || old.nonce === undefined || old.gas === undefined || old.maxFeePerGas === undefined || old.maxPriorityFeePerGas === undefined) return;
    const { bumpPercent, maxFeeWei } = this.config.chain.fees;
    const bump = (v: bigint) => (v * BigInt(100 + bumpPercent)) / 100n;
    const quote = await this.feeQuote();
    let maxFeePerGas = bump(old.maxFeePerGas);
    if (quote && quote.maxFeePerGas > maxFeePerGas) maxFeePerGas = quote.maxFeePerGas;
    if (maxFeePerGas > maxFeeWei) maxFeePerGas = maxFeeWei;
    const maxPriorityFeePerGas = bump(old.maxPriorityFeePerGas) > maxFeePerGas ? maxFeePerGas : bump(old.maxPriorityFeePerGas);
    if (maxFeePerGas <= old.maxFeePerGas) {
      this.logger.warn(`transaction ${row.id} is stuck at the fee cap (FEE_MAX_GWEI); not replaced`);
      return;
    }
    const sealed = await this.sealedKeyFor(tx);
    const chainId = old.chainId ?? (await this.chain.chain()).id;
    const raw = await this.keys.withSigner(
      { kind: tx.signerKind, id: tx.signerId },
      sealed,
      { actor: { type: 'system' }, operatorId: tx.requestedByType === 'operator' ? tx.operatorId : null, purpose: `fee bump ${tx.kind} ${tx.id}` },
      (account) => account.signTransaction({ chainId, type: 'eip1559', nonce: old.nonce!, to: old.to ?? undefined, data: old.data, gas: old.gas!, value: old.value ?? 0n, maxFeePerGas, maxPriorityFeePerGas }),
    );
    const hash = keccak256(raw);
    const [, n] = await this.ds.query<[unknown[], number]>(
      `UPDATE transactions SET replaced_hashes = array_append(coalesce(replaced_hashes, '{}'), tx_hash), tx_hash = $2, raw_tx = $3, attempts = attempts + 1, submitted_at = now(), updated_at = now()
        WHERE id = $1 AND status = 'submitted' AND tx_hash = $4`,
      [row.id, hash, raw, row.tx_hash],
    );
    if (n) {
      this.logger.log(`replaced stuck transaction ${row.id} (nonce ${old.nonce}) with a ${bumpPercent}% fee bump`);
      await this.broadcast(row.id, raw);
    }
  }

  private async allocateNonce(em: EntityManager, address: `0x${string}`): Promise<number> {
    const [row] = await em.query<Array<{ next_nonce: number }>>('SELECT next_nonce FROM signer_nonces WHERE address = $1 FOR UPDATE', [address]);
    const onChain = await this.chain.client.getTransactionCount({ address, blockTag: 'pending' }).catch(() => undefined);
    if (!row) {
      const start = onChain ?? 0;
      await em.query('INSERT INTO signer_nonces (address, next_nonce) VALUES ($1, $2) ON CONFLICT (address) DO NOTHING', [address, start]);
      return start;
    }
    // A nonce the node already used (e.g. a transaction sent outside kagi) is resynchronised.
    return onChain !== undefined && onChain > row.next_nonce ? onChain : row.next_nonce;
  }

  private async signOne(
    tx: Transaction,
    nonce: number,
    chainId: number,
    fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint },
    out: Array<{ id: string; nonce: number; hash: Hex; raw: Hex }>,
    memo: Map<string, Promise<unknown>>,
    estimate: bigint | undefined,
  ): Promise<Outcome> {
    // Memoised for this batch only: one check per requester per batch, right before its signatures.
    const once = <T>(k: string, f: () => Promise<T>): Promise<T> => {
      if (!memo.has(k)) memo.set(k, f());
      return memo.get(k) as Promise<T>;
    };
    // Authority is re-checked just before signing: suspended operators and revoked grants sign nothing.
    try {
      if (tx.requestedByType === 'operator') await once(`active:${tx.operatorId}`, () => this.operators.assertActive(tx.operatorId));
      if (tx.signerKind === 'issuer' && tx.requestedByType === 'operator') await once(`grant:${tx.signerId}:${tx.operatorId}`, () => this.issuers.assertGranted(tx.signerId, tx.operatorId));
    } catch (e) {
      const code = e instanceof Error && 'code' in e ? String((e as { code: string }).code) : 'FORBIDDEN';
      return { kind: 'failed', code, message: 'the requester may no longer sign for this token' };
    }
    const call = { account: tx.fromAddress, to: tx.toAddress ?? undefined, data: tx.callData };
    const { maxFeePerGas, maxPriorityFeePerGas } = fees;
    let gas: bigint;
    try {
      gas = estimate ?? ((await this.chain.client.estimateGas(call)) * 12n) / 10n;
    } catch (e) {
      if (isOutOfGas(e)) return { kind: 'retry', code: 'SIGNER_OUT_OF_GAS', message: `signer ${tx.fromAddress} has no gas` };
      const d = decodeRevert(e);
      if (d.code !== 'REVERTED' || (e instanceof BaseError && /revert/i.test(e.message))) return { kind: 'failed', code: d.code, message: d.message };
      return { kind: 'retry', code: 'CHAIN_UNAVAILABLE', message: 'the chain node could not be reached' };
    }
    const sealed = await once(`sealed:${tx.signerKind}:${tx.signerId}`, () => this.sealedKeyFor(tx));
    let raw: Hex;
    try {
      raw = await this.keys.withSigner(
        { kind: tx.signerKind, id: tx.signerId },
        sealed,
        { actor: { type: 'system' }, operatorId: tx.requestedByType === 'operator' ? tx.operatorId : null, purpose: `transaction ${tx.kind} ${tx.id}` },
        (account) => account.signTransaction({ chainId, type: 'eip1559', nonce, to: tx.toAddress ?? undefined, data: tx.callData, gas, maxFeePerGas, maxPriorityFeePerGas, value: 0n }),
      );
    } catch (e) {
      if (e instanceof KmsUnavailableError) return { kind: 'retry', code: 'KMS_UNAVAILABLE', message: 'the key management service is unavailable' };
      // A key that does not open (tampered, swapped, wrong master key) will not open on retry either.
      if (e instanceof KeyIntegrityError) return { kind: 'failed', code: 'KEY_INTEGRITY_FAILURE', message: 'the signing key could not be opened; the platform team was alerted through the audit trail' };
      this.logger.warn(`signing ${tx.id} failed: ${e instanceof Error ? e.name : 'error'}; will retry`);
      return { kind: 'retry', code: 'INTERNAL', message: 'signing failed; will retry' };
    }
    out.push({ id: tx.id, nonce, hash: keccak256(raw), raw });
    return { kind: 'signed' };
  }

  private sealedKeyFor(tx: Transaction): Promise<SealedKey> {
    return tx.signerKind === 'operator' ? this.operators.getSealedKey(tx.signerId) : this.issuers.getSealedKey(tx.signerId);
  }

  private async broadcast(id: string, raw: Hex): Promise<void> {
    try {
      await this.chain.client.sendRawTransaction({ serializedTransaction: raw });
    } catch (e) {
      // "already known" and friends are fine; anything else is retried by the receipt watcher.
      const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
      if (!/already known|known transaction|nonce too low/i.test(msg ?? '')) this.logger.warn(`broadcast of ${id} failed: ${msg}; will retry`);
    }
  }

  private async watchReceipts(): Promise<void> {
    const rows = await this.ds.query<Array<{ id: string; tx_hash: Hex; raw_tx: Hex; submitted_at: Date; replaced_hashes: Hex[] | null }>>(
      `SELECT id, tx_hash, raw_tx, submitted_at, replaced_hashes FROM transactions WHERE status = 'submitted' ORDER BY submitted_at LIMIT 500`,
    );
    if (!rows.length) return;
    const head = await this.chain.client.getBlockNumber().catch(() => undefined);
    if (head === undefined) return;
    const receiptOf = async (r: (typeof rows)[number]): Promise<TransactionReceipt | undefined> => {
      // The current hash, or any earlier one replaced by a fee bump: whichever was mined.
      for (const hash of [r.tx_hash, ...(r.replaced_hashes ?? [])]) {
        const rc = await this.chain.client.getTransactionReceipt({ hash }).catch(() => undefined);
        if (rc) return rc;
      }
      return undefined;
    };
    const receipts = await Promise.all(rows.map(receiptOf));
    const done: Array<{ r: (typeof rows)[number]; receipt: NonNullable<(typeof receipts)[number]> }> = [];
    for (const [i, r] of rows.entries()) {
      const receipt = receipts[i];
      if (!receipt) {
        const age = Date.now() - new Date(r.submitted_at).getTime();
        if (age > this.config.chain.fees.stuckAfterSeconds * 1000) await this.replaceStuck(r).catch((e: unknown) => this.logger.warn(`fee bump of ${r.id} failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`));
        else if (age > REBROADCAST_AFTER_MS) await this.broadcast(r.id, r.raw_tx);
        continue;
      }
      if (head - receipt.blockNumber + 1n < BigInt(this.config.chain.confirmations)) continue;
      done.push({ r, receipt });
    }
    if (!done.length) return;
    // One database transaction for every receipt of this round.
    await this.ds.transaction(async (em) => {
      for (const { r, receipt } of done) {
        const status = receipt.status === 'success' ? 'confirmed' : 'failed';
        const upd = await em.query<[unknown[], number]>(
          `UPDATE transactions SET status = $2, block_number = $3, error = $4, tx_hash = $5, updated_at = now() WHERE id = $1 AND status = 'submitted'`,
          [r.id, status, receipt.blockNumber.toString(), status === 'failed' ? { code: 'REVERTED', message: 'the transaction reverted on chain' } : null, receipt.transactionHash],
        );
        if (!upd[1]) continue;
        const tx = await em.getRepository(Transaction).findOneByOrFail({ id: r.id });
        await this.activation.onFinal(em, tx, status, receipt.contractAddress ?? undefined);
        this.outcomes.inc({ status });
        await this.audit.record(
          { actor: { type: 'system' }, operatorId: tx.requestedByType === 'operator' ? tx.operatorId : null, action: `transaction.${status}`, subject: { type: 'transaction', id: r.id }, outcome: status === 'confirmed' ? 'success' : 'failure', details: { txHash: r.tx_hash, blockNumber: receipt.blockNumber.toString() } },
          em,
        );
      }
    });
  }
}
