/**
 * Stage 1, signing, per signer and in order: claim the head of the signer's queue (advisory
 * lock per signer, so instances share work without overlap; a held signer is skipped) → build
 * each row's call from its stored request (the CallBuilder also re-checks that the requester may
 * still sign) → gas estimates for the batch → allocate nonces under a row lock → open the key and
 * sign, one opening per transaction → record the key openings → store the raw signed
 * transactions and their hashes (commit). Never signs a row twice for one nonce, and rows that
 * meet an outage back off and hold back the rows behind them (order is kept).
 */
import { Injectable, Logger } from '@nestjs/common';
import { BaseError, keccak256, MethodNotFoundRpcError, MethodNotSupportedRpcError, type Hex } from 'viem';
import type { EntityManager } from 'typeorm';
import { AuditSink, type AuditRecord } from '../../audit/audit-sink';
import { ChainService } from '../../chain/chain.service';
import { decodeRevert } from '../../chain/contracts/revert-decoder';
import { FeePolicy, type Fees } from '../../chain/fees';
import { Nonces } from '../../chain/nonces';
import { mapLimit } from '../../common/loop';
import { KeyIntegrityError, KmsUnavailableError } from '../../kms/key-management';
import { TransactionHooks } from '../hooks';
import { TransactionSigner, type SignFn } from '../transaction-signer';
import { PipelineRepository } from './pipeline.repository';
import { Broadcasting } from './broadcasting';
import { PipelineState } from './state';
import { FinalityWaiters } from './waiters';
import { CHAIN_DOWN, tenantOf, type Check, type Problem, type QueuedRow, type Signed } from './types';

const BATCH = 100;
const PARALLEL_SIGNERS = 6;
/** Key openings in flight within a batch: overlaps KMS round trips; each is still its own Decrypt. */
const OPENINGS_IN_FLIGHT = 4;

type Planned = { row: QueuedRow; to: `0x${string}` | null; data: Hex };
type Estimate = { gas: bigint } | { error: unknown };

function isOutOfGas(e: unknown): boolean {
  return e instanceof Error && /insufficient funds/i.test(e.message);
}

@Injectable()
export class Signing {
  private readonly logger = new Logger('Pipeline');
  /** False once the node said it has no `eth_createAccessList`. */
  private accessLists = true;

  constructor(
    private readonly repo: PipelineRepository,
    private readonly chain: ChainService,
    private readonly nonces: Nonces,
    private readonly fees: FeePolicy,
    private readonly signer: TransactionSigner,
    private readonly hooks: TransactionHooks,
    private readonly audit: AuditSink,
    private readonly broadcasting: Broadcasting,
    private readonly state: PipelineState,
    private readonly waiters: FinalityWaiters,
  ) {}

  /** One pass over every signer with due work; true when any of them made progress. */
  async round(): Promise<boolean> {
    const signers = await this.repo.dueSigners(this.state.scope);
    const progress = await mapLimit(signers, PARALLEL_SIGNERS, (s) => this.drain(s));
    return progress.some(Boolean);
  }

  private async drain(address: `0x${string}`): Promise<boolean> {
    let progressed = false;
    for (;;) {
      // At most one batch ahead of this signer's broadcasts. Not waited for here: a signer whose
      // sends wait for the node must not hold up the others; its broadcaster wakes signing.
      if (this.broadcasting.backlog(address) > 1) return progressed;
      const r = await this.batch(address);
      if (r.signed.length) this.broadcasting.enqueue(address, r.signed);
      progressed ||= r.progressed;
      if (!r.progressed || r.claimed < BATCH) return progressed;
    }
  }

  private async batch(address: `0x${string}`): Promise<{ claimed: number; progressed: boolean; signed: Signed[] }> {
    const result = { claimed: 0, progressed: false, signed: [] as Signed[], failed: 0 };
    await this.repo.transaction(async (em) => {
      if (!(await this.repo.trySignerLock(em, address))) return; // another instance works on this signer now
      // Where governance rows are signed, a row's `priority` (the emergency pause) goes first.
      const rows = await this.repo.claimHead(em, address, BATCH, this.state.scope !== 'keys');
      if (!rows[0]) return;
      if (!rows[0].due) return this.repo.spreadHeadError(em, address, rows[0].id);
      result.claimed = rows.length;
      result.progressed = true;

      // The calls first (database: the requester's authority, current addresses), then the chain
      // state for the whole batch; viem sends these reads as one JSON-RPC batch.
      const calls = await this.hooks.build(rows);
      const failures: Array<{ id: string } & Problem> = [];
      const built: Planned[] = [];
      for (const [i, c] of calls.entries()) {
        const row = rows[i]!;
        // A row that can never be signed fails; the rows after it keep their place.
        if ('failed' in c) failures.push({ id: row.id, code: c.code, message: c.message });
        else built.push({ row, to: c.to, data: c.data });
      }
      const [base, chainId, fees, estimates, balance] = await Promise.all([
        this.nonces.allocate(em, address),
        this.chain.chain().then(
          (c) => c.id,
          () => undefined,
        ),
        this.fees.quote(),
        Promise.all(built.map((b) => this.estimate(b))),
        built.length ? this.chain.pipeline.getBalance({ address, blockTag: 'latest' }).catch(() => undefined) : undefined,
      ]);

      const plan: Array<Planned & { gas: bigint }> = [];
      let retry: ({ id: string } & Problem) | undefined;
      if (chainId === undefined || !fees || (built.length && balance === undefined)) {
        retry = { id: rows[0].id, ...CHAIN_DOWN };
      } else {
        // What the planned rows may cost at most, against the signer's balance: a row it cannot
        // pay waits for gas (and holds back the rows behind it), as a node would refuse it.
        let cost = 0n;
        for (const [i, b] of built.entries()) {
          const c = await this.check(b, estimates[i]!);
          if (c.kind === 'ok' && balance !== undefined && cost + c.gas * fees.maxFeePerGas > balance) {
            retry = { id: b.row.id, code: 'SIGNER_OUT_OF_GAS', message: `signer ${b.row.fromAddress} has no gas` };
            break;
          }
          if (c.kind === 'ok') {
            cost += c.gas * fees.maxFeePerGas;
            plan.push({ ...b, gas: c.gas });
          } else if (c.kind === 'failed') failures.push({ id: b.row.id, code: c.code, message: c.message });
          else {
            retry = { id: b.row.id, code: c.code, message: c.message };
            break;
          }
        }
      }

      const signed = plan.length && chainId !== undefined && fees ? await this.signPlan(plan, base, chainId, fees, failures) : { ok: [] };
      retry ??= signed.retry;
      const submitted = await this.repo.markSubmitted(em, signed.ok);
      const failed = await this.repo.markFailed(em, failures);
      await this.recordFailures(em, failed, failures);
      await this.hooks.changed(em, [...submitted, ...failed]);
      if (failed.length) await this.waiters.announce(em);
      this.state.count(failed);
      result.failed = failed.length;
      // The row that met the outage backs off and holds back the rows behind it (order is kept).
      if (retry) await this.repo.backOff(em, address, retry.id, retry);
      await this.nonces.commit(em, address, base + signed.ok.length);
      result.signed = signed.ok.map(({ id, nonce, raw }) => ({ id, nonce, raw }));
    });
    if (result.failed) this.waiters.wake();
    return result;
  }

  /** Signs in nonce order; only the prefix before a signing failure is kept. */
  private async signPlan(
    plan: Array<Planned & { gas: bigint }>,
    base: number,
    chainId: number,
    fees: Fees,
    failures: Array<{ id: string } & Problem>,
  ): Promise<{ ok: Array<{ id: string; nonce: number; hash: Hex; raw: Hex; data: Hex }>; retry?: { id: string } & Problem }> {
    const openings: AuditRecord[] = [];
    const ok: Array<{ id: string; nonce: number; hash: Hex; raw: Hex; data: Hex }> = [];
    let retry: ({ id: string } & Problem) | undefined;
    let sign: SignFn;
    try {
      sign = await this.signer.open({ kind: plan[0]!.row.signerKind, id: plan[0]!.row.signerId });
    } catch (error) {
      const p = this.signingProblem(plan[0]!.row, error);
      if (p.kind === 'failed') failures.push({ id: plan[0]!.row.id, code: p.code, message: p.message });
      return { ok, retry: p.kind === 'retry' ? { id: plan[0]!.row.id, code: p.code, message: p.message } : undefined };
    }
    // After the first failure no further key is opened: what follows it is not kept anyway,
    // and a KMS that hangs would otherwise hold the batch for every row's timeout in turn.
    let stop = false;
    const raws = await mapLimit(plan, OPENINGS_IN_FLIGHT, async (p, i): Promise<{ raw: Hex } | { error: unknown } | { skipped: true }> => {
      if (stop) return { skipped: true };
      try {
        const tx = {
          chainId,
          type: 'eip1559' as const,
          nonce: base + i,
          to: p.to ?? undefined,
          data: p.data,
          gas: p.gas,
          ...fees,
          value: 0n,
        };
        return {
          raw: await sign(tx, { operatorId: tenantOf(p.row), purpose: `transaction ${p.row.kind} ${p.row.id}`, collect: openings }),
        };
      } catch (error) {
        stop = true;
        return { error };
      }
    });
    for (const [i, r] of raws.entries()) {
      const { row, data } = plan[i]!;
      if ('skipped' in r) break;
      if ('raw' in r) {
        ok.push({ id: row.id, nonce: base + i, hash: keccak256(r.raw), raw: r.raw, data });
        continue;
      }
      const p = this.signingProblem(row, r.error);
      if (p.kind === 'failed') failures.push({ id: row.id, code: p.code, message: p.message });
      else retry = { id: row.id, code: p.code, message: p.message };
      break;
    }
    // Every opening is on record before anything it signed is stored or sent (own statement:
    // it stays recorded even if this transaction rolls back).
    await this.audit.recordMany(openings);
    return { ok, retry };
  }

  /**
   * Gas from one execution of the call (`eth_createAccessList`'s `gasUsed`), rather than
   * `eth_estimateGas`, whose binary search runs the call about five times (measured on Anvil: a
   * 100-row batch lot 28 ms against 6 ms for one execution — most of the batches' Anvil time). The
   * margin in `check` covers what one execution does not: refunds (at most a fifth of the gas used)
   * and the access list's own small saving. A call that fails there, or a node without the method
   * (remembered), goes to `eth_estimateGas`, whose error carries the revert kagi decodes.
   */
  private async estimate(b: Planned): Promise<Estimate> {
    if (this.accessLists) {
      const used = await this.chain.pipeline
        .createAccessList({ account: b.row.fromAddress, to: b.to ?? undefined, data: b.data, blockTag: 'latest' })
        .then(
          (r) => r.gasUsed,
          (e: unknown) => {
            if (e instanceof BaseError && e.walk((x) => x instanceof MethodNotFoundRpcError || x instanceof MethodNotSupportedRpcError))
              this.accessLists = false;
            return undefined;
          },
        );
      if (used !== undefined && used > 0n) return { gas: used };
    }
    // Against `latest`, explicitly: without a block, Anvil estimates against its pending block,
    // which costs it time proportional to the chain's length (12 ms per call at 6,000 blocks).
    return this.chain.pipeline.estimateGas({ account: b.row.fromAddress, to: b.to ?? undefined, data: b.data, blockTag: 'latest' }).then(
      (gas) => ({ gas }),
      (error: unknown) => ({ error }),
    );
  }

  /** Gas for the row, or why it cannot be signed (now or ever). */
  private async check(b: Planned, estimate: Estimate): Promise<Check> {
    // The batch was estimated against the state before it; a row that failed there (a batch
    // transport error, say) is estimated once more on its own before it is judged.
    const e = 'gas' in estimate ? estimate : await this.estimate(b);
    // Margin: refunds and the access list (see estimate), and state the earlier rows of the batch change (a balance slot written from zero).
    if ('gas' in e) return { kind: 'ok', gas: (e.gas * 13n) / 10n + 30_000n };
    if (isOutOfGas(e.error)) return { kind: 'retry', code: 'SIGNER_OUT_OF_GAS', message: `signer ${b.row.fromAddress} has no gas` };
    const d = decodeRevert(e.error);
    if (d.code !== 'REVERTED' || (e.error instanceof BaseError && /revert/i.test(e.error.message)))
      return { kind: 'failed', code: d.code, message: d.message };
    return { kind: 'retry', ...CHAIN_DOWN };
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

  private async recordFailures(
    em: EntityManager,
    failed: ReadonlyArray<{ id: string; requestedByType: string; operatorId: string }>,
    problems: ReadonlyArray<{ id: string } & Problem>,
  ): Promise<void> {
    if (!failed.length) return;
    const code = new Map(problems.map((p) => [p.id, p.code]));
    await this.audit.recordMany(
      failed.map((f) => ({
        actor: { type: 'system' },
        operatorId: tenantOf(f),
        action: 'transaction.failed',
        subject: { type: 'transaction', id: f.id },
        outcome: 'failure',
        details: { code: code.get(f.id) },
      })),
      em,
    );
  }
}
