/**
 * The signing pipeline (design.md "Transaction pipeline"), in three stages that overlap:
 *
 * 1. Signing, per signer and in order: claim the head of the signer's queue (advisory
 *    lock per signer, so instances share work without overlap) → re-check each requester
 *    (active, still granted) → gas estimates for the batch → allocate nonces under a row
 *    lock → open the key and sign, one opening per transaction → record the key openings
 *    → store the raw signed transactions and their hashes (commit).
 * 2. Broadcasting, per signer and in order, only what is committed; the next batch of the
 *    signer is signed meanwhile (at most one batch ahead).
 * 3. Receipts: `confirmed` after CHAIN_CONFIRMATIONS (or `failed` with the reason),
 *    re-broadcast of stored transactions the node does not know (this is also the crash
 *    recovery: after a restart, stored signed transactions are sent again and the queue
 *    resumes), fee bumps of stuck ones, and re-queueing of a transaction whose nonce the
 *    chain gave to another transaction.
 *
 * KMS or chain outages keep rows queued with `error` filled and a backoff; never dropped.
 * Never signs a row twice for one nonce except as a fee bump, and never broadcasts bytes
 * that are not committed.
 */
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { BaseError, keccak256, parseTransaction, type Hex, type TransactionReceipt } from 'viem';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditSink, type AuditRecord } from '../audit/audit-sink';
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
import { firstLine } from '../common/logging';
import { Loop, mapLimit } from '../common/loop';
import { TokenActivation } from './token-activation';

const BATCH = 100;
const PARALLEL_SIGNERS = 6;
/** Key openings in flight within a batch: overlaps KMS round trips; each is still its own Decrypt. */
const OPENINGS_IN_FLIGHT = 4;
const REBROADCAST_AFTER_MS = 5_000;
const SIGN_POLL_MS = 200;
const RECEIPT_POLL_MS = 250;
const RECEIPTS_PER_ROUND = 1000;
/** Sent but not mined, per signer, at most (the node's pool and mining pace set the rest). */
const MAX_UNMINED_PER_SIGNER = 64;
/** A submitted row this instance has not sent: another instance (or a crashed one) sent it, or it will. */
const SENT_ELSEWHERE_MS = 2_000;

type Problem = { code: string; message: string };
type Check = { kind: 'ok'; gas: bigint } | ({ kind: 'failed' } & Problem) | ({ kind: 'retry' } & Problem);
type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };
type Estimate = { gas: bigint } | { error: unknown };
type Signed = { id: string; nonce: number; raw: Hex };

/** What the signing stage needs of a queued row. */
interface QueuedRow {
  id: string;
  kind: Transaction['kind'];
  operatorId: string;
  requestedByType: 'admin' | 'operator';
  signerKind: 'operator' | 'issuer';
  signerId: string;
  fromAddress: `0x${string}`;
  toAddress: `0x${string}` | null;
  callData: `0x${string}`;
  tokenId: string | null;
  due: boolean;
}

interface SubmittedRow {
  id: string;
  nonce: number;
  from_address: `0x${string}`;
  tx_hash: Hex;
  raw_tx: Hex;
  submitted_at: Date;
  replaced_hashes: Hex[] | null;
}

const CHAIN_DOWN: Problem = { code: 'CHAIN_UNAVAILABLE', message: 'the chain node could not be reached' };

function isOutOfGas(e: unknown): boolean {
  return e instanceof Error && /insufficient funds/i.test(e.message);
}

const tenantOf = (r: { requestedByType: string; operatorId: string }) => (r.requestedByType === 'operator' ? r.operatorId : null);

@Injectable()
export class Pipeline implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Pipeline');
  private readonly outcomes;
  private readonly signing: Loop;
  private readonly receipts: Loop;
  /** Per signer: broadcasts committed but not yet sent, oldest first. */
  private readonly broadcasts = new Map<string, Array<Promise<void>>>();
  /**
   * Submitted rows this instance has sent, with the head at which each was last seen unmined.
   * Receipts are asked only for rows sent (or older than SENT_ELSEWHERE_MS: sent by another
   * instance, or before a restart), and once per new block.
   */
  private readonly sent = new Map<string, bigint>();
  /** Rows whose nonce the chain gave to another transaction, and since when that was seen. */
  private readonly taken = new Map<string, number>();
  /** Rows in this instance's broadcast queues, not sent yet. */
  private readonly unsent = new Set<string>();
  /** Per signer: the send in progress (sends of one account never overlap). */
  private readonly sending = new Map<string, Promise<void>>();
  /** Per signer: its mined transaction count as last read. */
  private readonly mined = new Map<string, number>();
  private stopping = false;

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
    const warn = (what: string) => (e: unknown) => this.logger.warn(`${what} failed: ${firstLine(e)}`);
    this.signing = new Loop(SIGN_POLL_MS, () => this.signRound(), warn('signing round'));
    this.receipts = new Loop(RECEIPT_POLL_MS, () => this.receiptRound(), warn('receipt round'));
  }

  onApplicationBootstrap(): void {
    if (this.config.offline) return;
    this.signing.start();
    this.receipts.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    await this.signing.stop();
    await Promise.all([...this.broadcasts.values()].flat());
    await this.receipts.stop();
  }

  /** Called after a row is queued, for latency; the poll loop is the safety net. */
  wake(): void {
    this.signing.wake();
  }

  // ---- 1. signing ---------------------------------------------------------------------

  /** One pass over every signer with due work; true when any of them made progress. */
  private async signRound(): Promise<boolean> {
    const signers = await this.ds.query<Array<{ from_address: `0x${string}` }>>(
      `SELECT DISTINCT from_address FROM transactions WHERE status = 'queued' AND next_attempt_at <= now()`,
    );
    const progress = await mapLimit(signers, PARALLEL_SIGNERS, (s) => this.drainSigner(s.from_address));
    return progress.some(Boolean);
  }

  private async drainSigner(address: `0x${string}`): Promise<boolean> {
    let progressed = false;
    for (;;) {
      // At most one batch ahead of this signer's broadcasts. Not waited for here: a signer whose
      // sends wait for the node must not hold up the others; its broadcaster wakes signing.
      if ((this.broadcasts.get(address)?.length ?? 0) > 1) return progressed;
      const r = await this.signBatch(address);
      if (r.signed.length) this.enqueueBroadcast(address, r.signed);
      progressed ||= r.progressed;
      if (!r.progressed || r.claimed < BATCH) return progressed;
    }
  }

  private async signBatch(address: `0x${string}`): Promise<{ claimed: number; progressed: boolean; signed: Signed[] }> {
    const result = { claimed: 0, progressed: false, signed: [] as Signed[] };
    await this.ds.transaction(async (em) => {
      const [lock] = await em.query<Array<{ ok: boolean }>>(`SELECT pg_try_advisory_xact_lock(hashtext('kagi-signer:' || $1)) AS ok`, [
        address,
      ]);
      if (!lock?.ok) return; // another instance works on this signer now
      // The head of the queue, due or not: a row backing off holds back the rows behind it (order
      // is kept). No SKIP LOCKED: the advisory lock already keeps other workers out, and skipping
      // a row locked for a moment (a cancel) would sign the rows behind it first.
      const rows = await em.query<QueuedRow[]>(
        `SELECT id, kind, operator_id AS "operatorId", requested_by_type AS "requestedByType", signer_kind AS "signerKind", signer_id AS "signerId",
                from_address AS "fromAddress", to_address AS "toAddress", call_data AS "callData", token_id AS "tokenId", next_attempt_at <= now() AS due
           FROM transactions WHERE from_address = $1 AND status = 'queued' ORDER BY created_at, id LIMIT $2 FOR UPDATE`,
        [address, BATCH],
      );
      if (!rows[0]) return;
      if (!rows[0].due) {
        // The head is backing off after an outage: what queued behind it since shows the same reason.
        await em.query(
          `UPDATE transactions SET error = h.error, updated_at = now() FROM (SELECT error FROM transactions WHERE id = $2) h
            WHERE from_address = $1 AND status = 'queued' AND transactions.error IS NULL AND h.error IS NOT NULL`,
          [address, rows[0].id],
        );
        return;
      }
      result.claimed = rows.length;
      result.progressed = true;

      // Chain state for the whole batch; viem sends these reads as one JSON-RPC batch.
      const [base, chainId, fees, estimates] = await Promise.all([
        this.allocateNonce(em, address),
        this.chain.chain().then(
          (c) => c.id,
          () => undefined,
        ),
        this.feeQuote(),
        Promise.all(rows.map((r) => this.estimate(r))),
      ]);

      const failures: Array<{ row: QueuedRow } & Problem> = [];
      const plan: Array<{ row: QueuedRow; gas: bigint }> = [];
      let retry: ({ row: QueuedRow } & Problem) | undefined;
      if (chainId === undefined || !fees) {
        retry = { row: rows[0], ...CHAIN_DOWN };
      } else {
        const memo = new Map<string, Promise<unknown>>();
        for (const [i, row] of rows.entries()) {
          const c = await this.check(row, estimates[i]!, memo);
          if (c.kind === 'ok') plan.push({ row, gas: c.gas });
          else if (c.kind === 'failed') failures.push({ row, code: c.code, message: c.message });
          else {
            retry = { row, code: c.code, message: c.message };
            break;
          }
        }
      }

      // Sign in nonce order; only the prefix before a signing failure is kept.
      const openings: AuditRecord[] = [];
      const signed: Array<{ id: string; nonce: number; hash: Hex; raw: Hex }> = [];
      if (plan.length && chainId !== undefined && fees) {
        const sealed = await this.sealedKeyOf(plan[0]!.row);
        // After the first failure no further key is opened: what follows it is not kept anyway,
        // and a KMS that hangs would otherwise hold the batch for every row's timeout in turn.
        let stop = false;
        const raws = await mapLimit(
          plan,
          OPENINGS_IN_FLIGHT,
          async ({ row, gas }, i): Promise<{ raw: Hex } | { error: unknown } | { skipped: true }> => {
            if (stop) return { skipped: true };
            try {
              return { raw: await this.sign(row, sealed, { chainId, nonce: base + i, gas, fees }, openings) };
            } catch (error) {
              stop = true;
              return { error };
            }
          },
        );
        for (const [i, r] of raws.entries()) {
          const row = plan[i]!.row;
          if ('skipped' in r) break;
          if ('raw' in r) {
            signed.push({ id: row.id, nonce: base + i, hash: keccak256(r.raw), raw: r.raw });
            continue;
          }
          const p = this.signingProblem(row, r.error);
          if (p.kind === 'failed') failures.push({ row, code: p.code, message: p.message });
          else retry = { row, code: p.code, message: p.message };
          break;
        }
        // Every opening is on record before anything it signed is stored or sent (own statement:
        // it stays recorded even if this transaction rolls back).
        await this.audit.recordMany(openings);
      }

      if (signed.length) {
        await em.query(
          `UPDATE transactions t SET status = 'submitted', nonce = v.nonce, tx_hash = v.hash, raw_tx = v.raw, error = NULL, attempts = t.attempts + 1, submitted_at = now(), updated_at = now()
             FROM (SELECT unnest($1::uuid[]) AS id, unnest($2::int[]) AS nonce, unnest($3::text[]) AS hash, unnest($4::text[]) AS raw) v
            WHERE t.id = v.id`,
          [signed.map((x) => x.id), signed.map((x) => x.nonce), signed.map((x) => x.hash), signed.map((x) => x.raw)],
        );
      }
      if (failures.length) await this.fail(em, failures);
      if (retry) {
        // The row that met the outage backs off and holds back the rows behind it (order is kept);
        // every one of them shows why it waits.
        await em.query(
          `UPDATE transactions SET error = $2, attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => LEAST(30, power(2, LEAST(attempts, 5)))), updated_at = now() WHERE id = $1`,
          [retry.row.id, { code: retry.code, message: retry.message }],
        );
        await em.query(
          `UPDATE transactions SET error = $3, updated_at = now() WHERE from_address = $1 AND status = 'queued' AND id <> $2`,
          [address, retry.row.id, { code: retry.code, message: retry.message }],
        );
      }
      await em.query(`UPDATE signer_nonces SET next_nonce = $2 WHERE address = $1`, [address, base + signed.length]);
      result.signed = signed.map(({ id, nonce, raw }) => ({ id, nonce, raw }));
    });
    return result;
  }

  /** The next nonce of the signer under a row lock, resynchronised upwards from the node's pending count. */
  private async allocateNonce(em: EntityManager, address: `0x${string}`): Promise<number> {
    const onChainP = this.chain.client.getTransactionCount({ address, blockTag: 'pending' }).catch(() => undefined);
    let [row] = await em.query<Array<{ next_nonce: number }>>('SELECT next_nonce FROM signer_nonces WHERE address = $1 FOR UPDATE', [
      address,
    ]);
    const onChain = await onChainP;
    if (!row) {
      await em.query('INSERT INTO signer_nonces (address, next_nonce) VALUES ($1, $2) ON CONFLICT (address) DO NOTHING', [
        address,
        onChain ?? 0,
      ]);
      [row] = await em.query<Array<{ next_nonce: number }>>('SELECT next_nonce FROM signer_nonces WHERE address = $1 FOR UPDATE', [
        address,
      ]);
    }
    const stored = row?.next_nonce ?? 0;
    // A nonce the node already used (e.g. a transaction sent outside kagi) is skipped.
    return onChain !== undefined && onChain > stored ? onChain : stored;
  }

  private estimate(row: QueuedRow): Promise<Estimate> {
    // Against `latest`, explicitly: without a block, Anvil estimates against its pending block,
    // which costs it time proportional to the chain's length (12 ms per call at 6,000 blocks).
    return this.chain.client
      .estimateGas({ account: row.fromAddress, to: row.toAddress ?? undefined, data: row.callData, blockTag: 'latest' })
      .then(
        (gas) => ({ gas }),
        (error: unknown) => ({ error }),
      );
  }

  /** Authority (re-checked just before signing) and gas; memoised per batch. */
  private async check(row: QueuedRow, estimate: Estimate, memo: Map<string, Promise<unknown>>): Promise<Check> {
    const once = (k: string, f: () => Promise<unknown>) => {
      if (!memo.has(k)) memo.set(k, f());
      return memo.get(k)!;
    };
    // Suspended operators and revoked grants sign nothing, also for rows queued before.
    try {
      if (row.requestedByType === 'operator') await once(`active:${row.operatorId}`, () => this.operators.assertActive(row.operatorId));
      if (row.signerKind === 'issuer' && row.requestedByType === 'operator')
        await once(`grant:${row.signerId}:${row.operatorId}`, () => this.issuers.assertGranted(row.signerId, row.operatorId));
    } catch (e) {
      const code = e instanceof Error && 'code' in e ? String((e as { code: string }).code) : 'FORBIDDEN';
      return { kind: 'failed', code, message: 'the requester may no longer sign for this token' };
    }
    // The batch was estimated against the state before it; a row that failed there (a batch
    // transport error, say) is estimated once more on its own before it is judged.
    const e = 'gas' in estimate ? estimate : await this.estimate(row);
    // Margin for state the earlier rows of the batch change (e.g. a balance slot written from zero).
    if ('gas' in e) return { kind: 'ok', gas: (e.gas * 13n) / 10n + 30_000n };
    if (isOutOfGas(e.error)) return { kind: 'retry', code: 'SIGNER_OUT_OF_GAS', message: `signer ${row.fromAddress} has no gas` };
    const d = decodeRevert(e.error);
    if (d.code !== 'REVERTED' || (e.error instanceof BaseError && /revert/i.test(e.error.message)))
      return { kind: 'failed', code: d.code, message: d.message };
    return { kind: 'retry', ...CHAIN_DOWN };
  }

  private sign(
    row: QueuedRow,
    sealed: SealedKey,
    t: { chainId: number; nonce: number; gas: bigint; fees: Fees },
    openings: AuditRecord[],
  ): Promise<Hex> {
    return this.keys.withSigner(
      { kind: row.signerKind, id: row.signerId },
      sealed,
      { actor: { type: 'system' }, operatorId: tenantOf(row), purpose: `transaction ${row.kind} ${row.id}`, collect: openings },
      (account) =>
        account.signTransaction({
          chainId: t.chainId,
          type: 'eip1559',
          nonce: t.nonce,
          to: row.toAddress ?? undefined,
          data: row.callData,
          gas: t.gas,
          ...t.fees,
          value: 0n,
        }),
    );
  }

  private signingProblem(row: QueuedRow, e: unknown): ({ kind: 'failed' } & Problem) | ({ kind: 'retry' } & Problem) {
    if (e instanceof KmsUnavailableError)
      return { kind: 'retry', code: 'KMS_UNAVAILABLE', message: 'the key management service is unavailable' };
    // A key that does not open (tampered, swapped, wrong master key) will not open on retry either.
    if (e instanceof KeyIntegrityError)
      return {
        kind: 'failed',
        code: 'KEY_INTEGRITY_FAILURE',
        message: 'the signing key could not be opened; the platform team was alerted through the audit trail',
      };
    this.logger.warn(`signing ${row.id} failed: ${e instanceof Error ? e.name : 'error'}; will retry`);
    return { kind: 'retry', code: 'INTERNAL', message: 'signing failed; will retry' };
  }

  private sealedKeyOf(row: { signerKind: 'operator' | 'issuer'; signerId: string }): Promise<SealedKey> {
    return row.signerKind === 'operator' ? this.operators.getSealedKey(row.signerId) : this.issuers.getSealedKey(row.signerId);
  }

  /** Rows that can never be signed as they are: failed with the reason, in the caller's transaction. */
  private async fail(em: EntityManager, failures: Array<{ row: QueuedRow } & Problem>): Promise<void> {
    await em.query(
      `UPDATE transactions t SET status = 'failed', error = v.error, attempts = t.attempts + 1, updated_at = now()
         FROM (SELECT unnest($1::uuid[]) AS id, unnest($2::jsonb[]) AS error) v WHERE t.id = v.id`,
      [failures.map((f) => f.row.id), failures.map((f) => JSON.stringify({ code: f.code, message: f.message }))],
    );
    for (const f of failures)
      if (f.row.kind === 'deploy') await this.activation.onFinal(em, { ...f.row, userId: null, request: {} }, 'failed');
    await this.audit.recordMany(
      failures.map((f) => ({
        actor: { type: 'system' },
        operatorId: tenantOf(f.row),
        action: 'transaction.failed',
        subject: { type: 'transaction', id: f.row.id },
        outcome: 'failure',
        details: { code: f.code },
      })),
      em,
    );
    this.outcomes.inc({ status: 'failed' }, failures.length);
  }

  /** The fee policy: the node's EIP-1559 estimate, capped at FEE_MAX_GWEI. */
  private async feeQuote(): Promise<Fees | undefined> {
    const est = await this.chain.client.estimateFeesPerGas().catch(() => undefined);
    if (!est) return undefined;
    const cap = this.config.chain.fees.maxFeeWei;
    const maxFeePerGas = est.maxFeePerGas > cap ? cap : est.maxFeePerGas;
    const maxPriorityFeePerGas = est.maxPriorityFeePerGas > maxFeePerGas ? maxFeePerGas : est.maxPriorityFeePerGas;
    return { maxFeePerGas, maxPriorityFeePerGas };
  }

  // ---- 2. broadcasting ----------------------------------------------------------------

  /**
   * Queues committed transactions behind the signer's earlier ones; sent one by one, in nonce
   * order, and never more than MAX_UNMINED_PER_SIGNER ahead of what the node has mined: a node
   * that is sent faster than it mines piles them up (Anvil, past a few thousand blocks, then
   * stops mining at all), and a real node's pool keeps only so many per account.
   */
  private enqueueBroadcast(address: `0x${string}`, signed: Signed[]): void {
    const pending = this.broadcasts.get(address) ?? [];
    this.broadcasts.set(address, pending);
    for (const s of signed) this.unsent.add(s.id);
    const previous = pending.at(-1) ?? Promise.resolve();
    const mine: Promise<void> = previous.then(async () => {
      for (const s of signed) {
        // Shutting down: what is committed and not sent is sent after the restart (receipt stage).
        if (!(await this.roomToSend(address, s.nonce))) break;
        await this.send(address, s.id, s.raw);
        this.unsent.delete(s.id);
        this.sent.set(s.id, -1n);
      }
      void pending.splice(pending.indexOf(mine), 1);
      if (!pending.length && this.broadcasts.get(address) === pending) this.broadcasts.delete(address);
      this.receipts.wake();
      this.signing.wake();
    });
    pending.push(mine);
  }

  /** Waits until `nonce` is fewer than MAX_UNMINED_PER_SIGNER ahead of the signer's mined count; false when shutting down. */
  private async roomToSend(address: `0x${string}`, nonce: number): Promise<boolean> {
    for (let wait = 10; ; wait = Math.min(wait * 2, 500)) {
      if (this.stopping) return false;
      const mined = this.mined.get(address);
      if (mined !== undefined && nonce - mined < MAX_UNMINED_PER_SIGNER) return true;
      const count = await this.chain.client.getTransactionCount({ address, blockTag: 'latest' }).catch(() => undefined);
      if (count !== undefined) this.mined.set(address, count);
      if (count !== undefined && nonce - count < MAX_UNMINED_PER_SIGNER) return true;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** One send at a time per signer, whoever sends (the queue, a re-broadcast, a fee bump). */
  private send(address: `0x${string}`, id: string, raw: Hex): Promise<void> {
    const previous = this.sending.get(address) ?? Promise.resolve();
    const mine = previous.then(() => this.broadcast(id, raw));
    this.sending.set(address, mine);
    void mine.finally(() => {
      if (this.sending.get(address) === mine) this.sending.delete(address);
    });
    return mine;
  }

  /** Never throws: what the node did not take is sent again by the receipt stage. */
  private async broadcast(id: string, raw: Hex): Promise<void> {
    try {
      await this.chain.sender.sendRawTransaction({ serializedTransaction: raw });
    } catch (e) {
      // "already known" and friends are fine; a nonce taken by another transaction is found by the receipt stage.
      const msg = firstLine(e);
      if (!/already known|known transaction|nonce too low/i.test(msg)) this.logger.warn(`broadcast of ${id} failed: ${msg}; will retry`);
    }
  }

  // ---- 3. receipts --------------------------------------------------------------------

  private async receiptRound(): Promise<boolean> {
    const rows = await this.ds.query<SubmittedRow[]>(
      `SELECT id, nonce, from_address, tx_hash, raw_tx, submitted_at, replaced_hashes FROM transactions WHERE status = 'submitted' ORDER BY submitted_at, id LIMIT $1`,
      [RECEIPTS_PER_ROUND],
    );
    if (!rows.length) {
      this.sent.clear();
      this.taken.clear();
      return false;
    }
    const head = await this.chain.client.getBlockNumber().catch(() => undefined);
    if (head === undefined) return false;
    if (rows.length < RECEIPTS_PER_ROUND) {
      const listed = new Set(rows.map((r) => r.id));
      for (const id of this.sent.keys()) if (!listed.has(id)) this.sent.delete(id); // final elsewhere
      for (const id of this.taken.keys()) if (!listed.has(id)) this.taken.delete(id);
    }
    const now = Date.now();
    const due: SubmittedRow[] = [];
    // Seen unmined at this head already: no block since, so still unmined.
    const unmined: SubmittedRow[] = [];
    for (const r of rows) {
      const seenUnminedAt = this.sent.get(r.id);
      if (seenUnminedAt === undefined ? now - new Date(r.submitted_at).getTime() > SENT_ELSEWHERE_MS : seenUnminedAt < head) due.push(r);
      else if (seenUnminedAt !== undefined && seenUnminedAt >= head) unmined.push(r);
    }
    const receipts = await Promise.all(due.map((r) => this.receiptOf(r)));
    const done: Array<{ r: SubmittedRow; receipt: TransactionReceipt }> = [];
    for (const [i, r] of due.entries()) {
      const receipt = receipts[i];
      if (!receipt) {
        unmined.push(r);
        this.sent.set(r.id, head);
      } else if (head - receipt.blockNumber + 1n >= BigInt(this.config.chain.confirmations)) done.push({ r, receipt });
      else this.sent.set(r.id, head); // mined, waiting for CHAIN_CONFIRMATIONS: asked again at the next block
    }
    await this.confirm(done);
    for (const { r } of done) this.sent.delete(r.id);
    const waiting = unmined.filter((r) => now - new Date(r.submitted_at).getTime() > REBROADCAST_AFTER_MS);
    await this.recoverUnmined(waiting).catch((e: unknown) => this.logger.warn(`recovering unmined transactions failed: ${firstLine(e)}`));
    return rows.length === RECEIPTS_PER_ROUND && done.length > 0;
  }

  /** The receipt of the current hash, or of any earlier one replaced by a fee bump: whichever was mined. */
  private async receiptOf(r: Pick<SubmittedRow, 'tx_hash' | 'replaced_hashes'>): Promise<TransactionReceipt | undefined> {
    const hashes = [r.tx_hash, ...(r.replaced_hashes ?? [])];
    const found = await Promise.all(hashes.map((hash) => this.chain.client.getTransactionReceipt({ hash }).catch(() => undefined)));
    return found.find((x) => x !== undefined);
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
    const changed = await this.ds.transaction(async (em) => {
      const rows = await em.query<
        [Array<Pick<Transaction, 'id' | 'kind' | 'tokenId' | 'userId' | 'operatorId' | 'requestedByType' | 'request' | 'status'>>, number]
      >(
        `UPDATE transactions t SET status = v.status, block_number = v.block, error = v.error, tx_hash = v.hash, updated_at = now()
           FROM (SELECT unnest($1::uuid[]) AS id, unnest($2::varchar[]) AS status, unnest($3::bigint[]) AS block, unnest($4::varchar[]) AS hash, unnest($5::jsonb[]) AS error) v
          WHERE t.id = v.id AND t.status = 'submitted'
          RETURNING t.id, t.kind, t.token_id AS "tokenId", t.user_id AS "userId", t.operator_id AS "operatorId", t.requested_by_type AS "requestedByType", t.request, t.status`,
        [
          finals.map((f) => f.id),
          finals.map((f) => f.status),
          finals.map((f) => f.block),
          finals.map((f) => f.hash),
          finals.map((f) => (f.error ? JSON.stringify(f.error) : null)),
        ],
      );
      const updated = rows[0];
      const byId = new Map(finals.map((f) => [f.id, f]));
      for (const tx of updated) {
        const f = byId.get(tx.id)!;
        if (TokenActivation.concerns(tx.kind)) await this.activation.onFinal(em, tx, f.status, f.contract);
      }
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
      return updated.map((tx) => byId.get(tx.id)!.status);
    });
    for (const status of ['confirmed', 'failed'] as const) {
      const n = changed.filter((s) => s === status).length;
      if (n) this.outcomes.inc({ status }, n);
    }
  }

  /** A mined revert carries no reason: the call is replayed on the state before its block (best effort). */
  private async revertReason(receipt: TransactionReceipt): Promise<Problem> {
    const generic = { code: 'REVERTED', message: 'the transaction reverted on chain' };
    try {
      const tx = await this.chain.client.getTransaction({ hash: receipt.transactionHash });
      await this.chain.client.call({
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

  /**
   * Stored transactions the node has not mined for a while, per signer and in nonce order:
   * sent again if the node does not know them, the lowest one's fee bumped once it counts as
   * stuck (only the lowest nonce can be mined next), and a row re-queued when its nonce went
   * to another transaction. Sends of one account never overlap: concurrent sends from one
   * account stall a node that mines on arrival (Anvil automine).
   */
  private async recoverUnmined(rows: SubmittedRow[]): Promise<void> {
    const bySigner = new Map<`0x${string}`, SubmittedRow[]>();
    for (const r of rows) {
      const list = bySigner.get(r.from_address);
      if (list) list.push(r);
      else bySigner.set(r.from_address, [r]);
    }
    for (const [address, all] of bySigner) {
      // What this instance's queue has not sent yet is not lost: the queue sends it.
      const mine = all.filter((r) => !this.unsent.has(r.id)).sort((a, b) => a.nonce - b.nonce);
      if (!mine.length) continue;
      // The signer's mined count first, then the receipts again: a transaction of ours mined in
      // between is then seen, so "nonce used and no receipt" means another transaction took it.
      const mined = await this.chain.client.getTransactionCount({ address, blockTag: 'latest' }).catch(() => undefined);
      if (mined === undefined) continue;
      this.mined.set(address, mined);
      const [receipts, known] = await Promise.all([
        Promise.all(mine.map((r) => this.receiptOf(r))),
        Promise.all(
          mine.map((r) =>
            this.chain.client.getTransaction({ hash: r.tx_hash }).then(
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
      for (const p of pending) if (!p.known) await this.send(address, p.r.id, p.r.raw_tx);
      const lowest = pending[0];
      if (lowest?.known && Date.now() - new Date(lowest.r.submitted_at).getTime() > this.config.chain.fees.stuckAfterSeconds * 1000)
        await this.replaceStuck(lowest.r);
    }
  }

  /** First seen with its nonce taken: remembered; still so REBROADCAST_AFTER_MS later: re-queued. */
  private async nonceTaken(r: SubmittedRow): Promise<void> {
    const since = this.taken.get(r.id);
    if (since === undefined) this.taken.set(r.id, Date.now());
    else if (Date.now() - since > REBROADCAST_AFTER_MS) {
      this.taken.delete(r.id);
      await this.requeue(r);
    }
  }

  /** The nonce went to a transaction that is not ours: this one can never be mined, so it is signed again with a new nonce. */
  private async requeue(r: SubmittedRow): Promise<void> {
    const [, n] = await this.ds.query<[unknown[], number]>(
      `UPDATE transactions SET status = 'queued', nonce = NULL, replaced_hashes = array_append(coalesce(replaced_hashes, '{}'), tx_hash), tx_hash = NULL, raw_tx = NULL,
              error = $3, next_attempt_at = now(), updated_at = now()
        WHERE id = $1 AND status = 'submitted' AND tx_hash = $2`,
      [
        r.id,
        r.tx_hash,
        {
          code: 'NONCE_TAKEN',
          message: `nonce ${r.nonce} was used by another transaction of ${r.from_address}; signing again with a new nonce`,
        },
      ],
    );
    if (n) {
      this.logger.warn(`transaction ${r.id}: nonce ${r.nonce} of ${r.from_address} was taken by another transaction; re-queued`);
      this.signing.wake();
    }
  }

  /**
   * A transaction the node has not mined after TX_STUCK_AFTER_SECONDS is signed again with
   * the same nonce and fees raised by FEE_BUMP_PERCENT (capped); the earlier hash is kept in
   * replaced_hashes, so whichever of them is mined is recognised.
   */
  private async replaceStuck(row: SubmittedRow): Promise<void> {
    const tx = await this.ds.getRepository(Transaction).findOneByOrFail({ id: row.id });
    const old = parseTransaction(row.raw_tx);
    if (
      old.type !== 'eip1559' ||
      old.nonce === undefined ||
      old.gas === undefined ||
      old.maxFeePerGas === undefined ||
      old.maxPriorityFeePerGas === undefined
    )
      return;
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
    const sealed = await this.sealedKeyOf(tx);
    const chainId = old.chainId ?? (await this.chain.chain()).id;
    const raw = await this.keys.withSigner(
      { kind: tx.signerKind, id: tx.signerId },
      sealed,
      { actor: { type: 'system' }, operatorId: tenantOf(tx), purpose: `fee bump ${tx.kind} ${tx.id}` },
      (account) =>
        account.signTransaction({
          chainId,
          type: 'eip1559',
          nonce: old.nonce!,
          to: old.to ?? undefined,
          data: old.data,
          gas: old.gas!,
          value: old.value ?? 0n,
          maxFeePerGas,
          maxPriorityFeePerGas,
        }),
    );
    const hash = keccak256(raw);
    const [, n] = await this.ds.query<[unknown[], number]>(
      `UPDATE transactions SET replaced_hashes = array_append(coalesce(replaced_hashes, '{}'), tx_hash), tx_hash = $2, raw_tx = $3, attempts = attempts + 1, submitted_at = now(), updated_at = now()
        WHERE id = $1 AND status = 'submitted' AND tx_hash = $4`,
      [row.id, hash, raw, row.tx_hash],
    );
    if (n) {
      this.logger.log(`replaced stuck transaction ${row.id} (nonce ${old.nonce}) with a ${bumpPercent}% fee bump`);
      await this.send(tx.fromAddress, row.id, raw);
    }
  }
}
