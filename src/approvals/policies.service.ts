/**
 * Firm approval policies and the platform floor. Raising a policy applies at once; lowering a
 * firm's is a control change (a second firm-admin, or the delay in a firm with one); lowering
 * the floor waits for a second admin where PLATFORM_FOUR_EYES applies.
 */
import { Injectable } from '@nestjs/common';
import { AuditSink } from '../audit/audit-sink';
import { AppError, NotFoundError } from '../common/app-error';
import { actorOf, firmOf, type Principal } from '../common/principal';
import { AppConfig } from '../config/app-config';
import { ControlChangesService } from '../operators/control-changes.service';
import { OperatorsService } from '../operators/operators.service';
import { PoliciesRepository } from './policies.repository';
import { lowers, type Policy, type PolicyRule } from './policy-rules';

const POLICY_CHANGE = 'approval-policy';

/** Stored exactly as validated (no unknown fields; absent optionals left out). */
const clean = (rules: readonly PolicyRule[]): PolicyRule[] =>
  rules.map((r) => ({
    kinds: [...new Set(r.kinds)],
    ...(r.minAmount !== undefined ? { minAmount: r.minAmount } : {}),
    ...(r.window !== undefined ? { window: r.window } : {}),
    approvals: r.approvals,
  }));

@Injectable()
export class PoliciesService {
  constructor(
    private readonly repo: PoliciesRepository,
    private readonly operators: OperatorsService,
    private readonly changes: ControlChangesService,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
  ) {
    this.changes.register(POLICY_CHANGE, async (em, c) => {
      await this.repo.putFirm(em, c.operator_id, (c.payload.rules ?? []) as PolicyRule[], c.requested_by);
    });
  }

  async getFirm(p: Principal, operatorId: string): Promise<Policy> {
    await this.operators.get(operatorId, p); // 404 for unknown and foreign ids
    return { rules: await this.repo.firmRules(undefined, operatorId) };
  }

  /** The policy now (200), or the pending control change that lowers it (202). */
  async putFirm(
    p: Principal,
    operatorId: string,
    policy: Policy,
    requestId?: string,
  ): Promise<{ policy: Policy } | { changeId: string; effectiveAt: string | null }> {
    if (firmOf(p) !== operatorId) throw new NotFoundError('Operator');
    const rules = clean(policy.rules);
    return this.repo.transaction(async (em) => {
      await this.repo.lock(em, operatorId);
      const before = await this.repo.firmRules(em, operatorId);
      if (lowers(before, rules)) {
        const pending = await this.changes.request(
          em,
          p,
          { operatorId, kind: POLICY_CHANGE, targetStaffId: null, payload: { rules } },
          requestId,
        );
        if (pending) return pending;
      } else {
        await this.repo.putFirm(em, operatorId, rules, p.id);
        await this.audit.record(
          {
            actor: actorOf(p),
            operatorId,
            action: 'approval-policy.update',
            subject: { type: 'operator', id: operatorId },
            outcome: 'success',
            details: { rules },
            requestId,
          },
          em,
        );
      }
      return { policy: { rules: await this.repo.firmRules(em, operatorId) } };
    });
  }

  async getPlatform(): Promise<Policy> {
    return { rules: await this.repo.platformRules() };
  }

  async putPlatform(p: Principal, policy: Policy, requestId?: string): Promise<Policy> {
    const rules = clean(policy.rules);
    return this.repo.transaction(async (em) => {
      await this.repo.lock(em, 'platform');
      const lowering = lowers(await this.repo.platformRules(em), rules);
      // LEAD (platform actions): with PLATFORM_FOUR_EYES on (its default is production), lowering the
      // floor must become a platform action a second admin approves; until that is wired it is refused there.
      if (lowering && this.config.isProduction)
        throw new AppError('FORBIDDEN', 'Lowering the platform floor waits for a second admin (platform actions)');
      await this.repo.putPlatform(em, rules, p.id);
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId: null,
          action: 'platform-policy.update',
          subject: { type: 'platform-policy', id: 'floor' },
          outcome: 'success',
          details: { rules, lowering },
          requestId,
        },
        em,
      );
      return { rules };
    });
  }
}
