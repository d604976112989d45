/**
 * Firm approval policies and the platform floor. Raising a policy applies at once; lowering a
 * firm's is a control change (a second firm-admin, or the delay in a firm with one); lowering
 * the floor waits for a second admin where PLATFORM_FOUR_EYES applies.
 */
import { Injectable } from '@nestjs/common';
import { AuditSink } from '../audit/audit-sink';
import { NotFoundError } from '../common/app-error';
import { actorOf, firmOf, type Principal } from '../common/principal';
import { AppConfig } from '../config/app-config';
import { ControlChangesService } from '../operators/control-changes.service';
import { OperatorsService } from '../operators/operators.service';
import { PlatformActions } from '../platform-actions/platform-actions.service';
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

const LOWER_FLOOR = 'platform-floor.lower';

@Injectable()
export class PoliciesService {
  constructor(
    private readonly repo: PoliciesRepository,
    private readonly operators: OperatorsService,
    private readonly changes: ControlChangesService,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
    private readonly actions: PlatformActions,
  ) {
    this.changes.register(POLICY_CHANGE, async (em, c) => {
      await this.repo.putFirm(em, c.operator_id, (c.payload.rules ?? []) as PolicyRule[], c.requested_by);
    });
    // A lowered floor waits for a second admin (PLATFORM_FOUR_EYES); approved, it applies then.
    this.actions.register(LOWER_FLOOR, {
      run: async (em, action) => {
        const rules = (action.payload.rules ?? []) as PolicyRule[];
        await this.repo.lock(em, 'platform');
        await this.repo.putPlatform(em, rules, action.requested_by);
        await this.audit.record(
          {
            actor: { type: 'admin', id: action.requested_by },
            operatorId: null,
            action: 'platform-policy.update',
            subject: { type: 'platform-policy', id: 'floor' },
            outcome: 'success',
            details: { rules, lowering: true, platformActionId: action.id },
          },
          em,
        );
        return { rules };
      },
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

  /** Raising applies at once; lowering, with PLATFORM_FOUR_EYES on, becomes a platform action a second admin approves. */
  async putPlatform(p: Principal, policy: Policy, requestId?: string): Promise<Policy | { actionId: string; status: 'pending_approval' }> {
    const rules = clean(policy.rules);
    return this.repo.transaction(async (em) => {
      await this.repo.lock(em, 'platform');
      const lowering = lowers(await this.repo.platformRules(em), rules);
      if (lowering && this.actions.fourEyes) {
        const out = await this.actions.request(
          em,
          p,
          { kind: LOWER_FLOOR, subject: { type: 'platform-policy', id: 'floor' }, payload: { rules } },
          requestId,
        );
        return { actionId: out.action.id, status: 'pending_approval' as const };
      }
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
