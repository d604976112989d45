/**
 * The custody ledger (分別管理): which investor owns what of a firm's custody address, per
 * token. Confirmed deposits and withdrawals move it inside the receipt stage's database
 * transaction (a finality handler), so the ledger and the confirmation commit together.
 * Reconciliation against the on-chain balance runs as a job (scheduled every minute, and after
 * each custody movement) that feeds the gauge; readiness reads its last result and never calls
 * the chain per token.
 */
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { getAddress } from 'viem';
import type { EntityManager } from 'typeorm';
import { Metrics } from '../common/metrics';
import { Jobs } from '../jobs/jobs.service';
import { ReadinessContributors } from '../health/readiness-contributors';
import { OperatorsService } from '../operators/operators.service';
import { TransactionHooks } from '../transactions/hooks';
import type { Transition } from '../transactions/pipeline/types';
import type { Token } from './entities/token.entity';
import { TokenReads } from './token-reads';
import { TokensRepository } from './tokens.repository';
import { reportCustodyDrift } from '../webhooks/webhook-events';

const RECONCILE_JOB = 'custody.reconcile';
const RECONCILE_EVERY_MS = 60_000;

export interface Reconciliation {
  at: string;
  custodyLedgers: number;
  mismatches: number;
}

@Injectable()
export class CustodyLedger implements OnModuleInit {
  private readonly difference;
  /** The last reconciliation this instance ran (the scheduled job runs on one instance per slot). */
  private last: Reconciliation | undefined;

  constructor(
    private readonly repo: TokensRepository,
    private readonly reads: TokenReads,
    private readonly operators: OperatorsService,
    private readonly hooks: TransactionHooks,
    private readonly readiness: ReadinessContributors,
    private readonly jobs: Jobs,
    metrics: Metrics,
  ) {
    this.difference = metrics.gauge(
      'kagi_custody_reconciliation_difference',
      'On-chain custody balance minus the custody ledger, per token (0 = reconciled)',
      ['token'],
    );
  }

  onModuleInit(): void {
    this.hooks.onFinal((em, final) => this.apply(em, final));
    // A mismatch is a finding for ops, not an outage: reported in readiness details.
    this.readiness.add('custody', async () => this.last ?? { pending: 'not reconciled on this instance yet' });
    this.jobs.register(RECONCILE_JOB, async () => void (await this.reconcile()), {
      schedule: { everyMs: RECONCILE_EVERY_MS },
      maxAttempts: 3,
      backoff: { baseMs: 1000, maxMs: 10_000 },
    });
  }

  /** Confirmed deposits and withdrawals move the investor's custody balance (idempotent: runs once per transition). */
  async apply(em: EntityManager, final: readonly Transition[]): Promise<void> {
    const moves = final
      .filter((t) => t.status === 'confirmed' && t.tokenId && t.userId && (t.kind === 'deposit' || t.kind === 'withdraw'))
      .map((t) => {
        const amount = String(t.request.amount);
        return { tokenId: t.tokenId!, operatorId: t.operatorId, userId: t.userId!, delta: t.kind === 'deposit' ? amount : `-${amount}` };
      });
    if (!moves.length) return;
    await this.repo.moveCustody(em, moves);
    // Reconciled again once the movement commits (one pending run at most).
    await this.jobs.enqueue(em, { type: RECONCILE_JOB, singletonKey: RECONCILE_JOB });
  }

  /** What a user holds in the firm's custody, confirmed (pending withdrawals are the queue's). */
  held(em: EntityManager | undefined, tokenId: string, operatorId: string, userId: string): Promise<bigint> {
    return this.repo.custodyOf(em, tokenId, operatorId, userId);
  }

  async view(
    t: Token,
    operatorId: string,
  ): Promise<{ custodyAddress: string; onChainBalance: string; items: Array<{ userId: string; amount: string }> }> {
    const custodyAddress = await this.operators.custodyAddressOf(operatorId);
    const onChain = t.address && t.status === 'active' ? await this.reads.balanceOf(t.address, custodyAddress) : 0n;
    const rows = await this.repo.ledger(t.id, operatorId);
    const ledger = rows.reduce((sum, r) => sum + BigInt(r.amount), 0n);
    this.difference.set({ token: t.id }, Number(onChain - ledger));
    return { custodyAddress, onChainBalance: onChain.toString(), items: rows.map((r) => ({ userId: r.user_id, amount: r.amount })) };
  }

  /** Every ledger against its custody address's on-chain balance; the result feeds the gauge and readiness. */
  async reconcile(): Promise<Reconciliation> {
    const rows = await this.repo.ledgerTotals();
    let mismatches = 0;
    let ledgers = 0;
    for (const r of rows) {
      if (!r.address) continue;
      ledgers++;
      const custody = await this.operators.custodyAddressOf(r.operator_id);
      const diff = (await this.reads.balanceOf(getAddress(r.address), custody)) - BigInt(r.s);
      this.difference.set({ token: r.token_id }, Number(diff));
      const custodyDrift = { tokenId: r.token_id, operatorId: r.operator_id, custodyAddress: custody, ledgerBalance: BigInt(r.s) };
      await reportCustodyDrift((fn) => this.repo.transaction(fn), { ...custodyDrift, onChainBalance: BigInt(r.s) + diff });
      if (diff !== 0n) mismatches++;
    }
    this.last = { at: new Date().toISOString(), custodyLedgers: ledgers, mismatches };
    return this.last;
  }
}
