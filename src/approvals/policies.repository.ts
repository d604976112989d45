/** The approval_policies (per firm) and platform_policy (the floor) tables: every SQL statement on them. */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { PolicyRule } from './policy-rules';

@Injectable()
export class PoliciesRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  async firmRules(em: EntityManager | undefined, operatorId: string): Promise<PolicyRule[]> {
    const [r] = await (em ?? this.ds.manager).query<Array<{ rules: PolicyRule[] }>>(
      'SELECT rules FROM approval_policies WHERE operator_id = $1',
      [operatorId],
    );
    return r?.rules ?? [];
  }

  async platformRules(em?: EntityManager): Promise<PolicyRule[]> {
    const [r] = await (em ?? this.ds.manager).query<Array<{ rules: PolicyRule[] }>>('SELECT rules FROM platform_policy WHERE id = 1');
    return r?.rules ?? [];
  }

  /** Firm rules and the floor in one round trip (acceptance reads both for every operation). */
  async rulesOf(operatorId: string, em?: EntityManager): Promise<{ firm: PolicyRule[]; floor: PolicyRule[] }> {
    const [r] = await (em ?? this.ds.manager).query<Array<{ firm: PolicyRule[] | null; floor: PolicyRule[] | null }>>(
      `SELECT (SELECT rules FROM approval_policies WHERE operator_id = $1) AS firm, (SELECT rules FROM platform_policy WHERE id = 1) AS floor`,
      [operatorId],
    );
    return { firm: r?.firm ?? [], floor: r?.floor ?? [] };
  }

  /** Serialises policy changes of one firm (or of the floor: `platform`) until `em` commits. */
  async lock(em: EntityManager, scope: string): Promise<void> {
    await em.query(`SELECT pg_advisory_xact_lock(hashtext('kagi-policy:' || $1))`, [scope]);
  }

  async putFirm(em: EntityManager, operatorId: string, rules: readonly PolicyRule[], by: string | null): Promise<void> {
    await em.query(
      `INSERT INTO approval_policies (operator_id, rules, updated_by) VALUES ($1, $2::jsonb, $3)
         ON CONFLICT (operator_id) DO UPDATE SET rules = EXCLUDED.rules, updated_by = EXCLUDED.updated_by, updated_at = now()`,
      [operatorId, JSON.stringify(rules), by],
    );
  }

  async putPlatform(em: EntityManager, rules: readonly PolicyRule[], by: string): Promise<void> {
    await em.query(
      `INSERT INTO platform_policy (id, rules, updated_by) VALUES (1, $1::jsonb, $2)
         ON CONFLICT (id) DO UPDATE SET rules = EXCLUDED.rules, updated_by = EXCLUDED.updated_by, updated_at = now()`,
      [JSON.stringify(rules), by],
    );
  }
}
