/**
 * What other modules call when they accept a request: how many approvals it needs (firm rules
 * and the platform floor, rolling windows included; fixed at the request), its legal basis, and
 * the expiry of what waits for approval. `system` requests never come here (they bypass firm
 * policies with the basis kagi sets).
 */
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { Jobs } from '../jobs/jobs.service';
import type { LegalBasis } from '../transactions/entities/transaction.entity';
import { TransactionQueue } from '../transactions/queue';
import { legalBasisOf, type LegalBasisNeed } from './legal-basis';
import { PoliciesRepository } from './policies.repository';
import { requiredApprovals, rulesFor, WINDOW_SECONDS, type PolicyRule } from './policy-rules';

export const EXPIRE_JOB = 'approvals.expire';

/** A batch's lots are stored under their batch kinds: a rolling window counts them with the kind they run. */
const LOT_KINDS: Record<string, string> = {
  issue: 'batch-issue',
  redeem: 'batch-redeem',
  transfer: 'batch-forced-transfer',
  'forced-transfer': 'batch-forced-transfer',
  freeze: 'batch-freeze',
  unfreeze: 'batch-unfreeze',
};
const withLotKinds = (kinds: readonly string[]): string[] => [...kinds, ...kinds.flatMap((k) => (LOT_KINDS[k] ? [LOT_KINDS[k]] : []))];

export interface ApprovalQuery {
  firmId: string;
  tokenId: string;
  /** The operation kind (a batch row or order operation: its kind). */
  kind: string;
  /** The request's amount (a batch: the sum of its rows); undefined for kinds without one. */
  amount?: bigint;
}

@Injectable()
export class ApprovalPolicy {
  constructor(
    private readonly repo: PoliciesRepository,
    private readonly queue: TransactionQueue,
    private readonly jobs: Jobs,
    private readonly config: AppConfig,
  ) {}

  /**
   * The firm's rules and the floor's when one of them names `kind`, false when none does: the
   * request needs no approval (checked before any transaction). The accepting transaction then
   * counts with these rules (`required`): read a moment earlier than it, which under READ
   * COMMITTED is the same guarantee — no lock orders a policy change against a request.
   */
  async mayApply(firmId: string, kind: string): Promise<readonly PolicyRule[] | false> {
    const { firm, floor } = await this.repo.rulesOf(firmId);
    const rules = [...firm, ...floor];
    return rulesFor(rules, kind).length > 0 && rules;
  }

  /**
   * Approvals the request needs, in the accepting transaction `em`: windowed rules count the
   * firm's requests of their kinds on the token under a lock, so two requests cannot both slip
   * under a threshold. `rules`: what `mayApply` answered (read here when not given).
   */
  async required(em: EntityManager, q: ApprovalQuery, given?: readonly PolicyRule[]): Promise<number> {
    const rules = given ?? Object.values(await this.repo.rulesOf(q.firmId, em)).flat();
    let locked = false;
    return requiredApprovals(rules, q.kind, q.amount, async (rule) => {
      if (!locked) await this.queue.lockWindow(em, q.firmId, q.tokenId);
      locked = true;
      return this.queue.windowSum(em, q.firmId, q.tokenId, withLotKinds(rule.kinds), WINDOW_SECONDS[rule.window ?? '24h']);
    });
  }

  /** Schedules the expiry (APPROVAL_TTL) of a request that waits for approval, in its accepting transaction. */
  async awaitApproval(em: EntityManager, item: { type: 'transaction' | 'batch' | 'order'; id: string; firmId: string }): Promise<void> {
    await this.jobs.enqueue(em, {
      type: EXPIRE_JOB,
      payload: { type: item.type, id: item.id, firmId: item.firmId },
      runAt: new Date(Date.now() + this.config.controls.approvalTtlSeconds * 1000),
      maxAttempts: 50,
    });
  }

  /** The legal basis a request carries (400 when a required one is missing). */
  legalBasis(need: LegalBasisNeed, body: Record<string, unknown>): LegalBasis | null {
    return legalBasisOf(need, body, this.config.controls.requireLegalBasis);
  }
}
