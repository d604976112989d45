/** The control_changes table: changes that weaken a firm's controls, waiting for a second firm-admin or a delay. */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { Page, PageQuery } from '../common/pagination';
import { rawPage } from '../common/raw-page';

export interface ControlChangeRow {
  id: string;
  operator_id: string;
  kind: string;
  target_staff_id: string | null;
  payload: Record<string, unknown>;
  requested_by: string;
  status: 'pending' | 'applied' | 'cancelled';
  effective_at: Date | null;
  approved_by: string | null;
  applied_at: Date | null;
  created_at: Date;
}

@Injectable()
export class ControlChangesRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  async insert(
    em: EntityManager,
    c: {
      id: string;
      operatorId: string;
      kind: string;
      targetStaffId: string | null;
      payload: object;
      requestedBy: string;
      effectiveAt: Date | null;
    },
  ): Promise<void> {
    await em.query(
      `INSERT INTO control_changes (id, operator_id, kind, target_staff_id, payload, requested_by, effective_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [c.id, c.operatorId, c.kind, c.targetStaffId, JSON.stringify(c.payload), c.requestedBy, c.effectiveAt],
    );
  }

  /** Locks a pending change of the firm; undefined when unknown, foreign or not pending. */
  async lockPending(em: EntityManager, operatorId: string, id: string): Promise<ControlChangeRow | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const rows = await em.query<ControlChangeRow[]>(
      `SELECT * FROM control_changes WHERE id = $1 AND operator_id = $2 AND status = 'pending' FOR UPDATE`,
      [id, operatorId],
    );
    return rows[0];
  }

  async exists(operatorId: string, id: string): Promise<boolean> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return false;
    const rows = await this.ds.query<unknown[]>(`SELECT 1 FROM control_changes WHERE id = $1 AND operator_id = $2`, [id, operatorId]);
    return rows.length > 0;
  }

  /** Due delayed changes, locked and skipped by other instances. */
  async lockDue(em: EntityManager, limit: number): Promise<ControlChangeRow[]> {
    return em.query<ControlChangeRow[]>(
      `SELECT * FROM control_changes WHERE status = 'pending' AND effective_at IS NOT NULL AND effective_at <= now()
        ORDER BY effective_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
  }

  async markApplied(em: EntityManager, id: string, approvedBy: string | null): Promise<void> {
    await em.query(`UPDATE control_changes SET status = 'applied', applied_at = now(), approved_by = $2 WHERE id = $1`, [id, approvedBy]);
  }

  async cancelForStaff(em: EntityManager, staffId: string): Promise<void> {
    await em.query(`UPDATE control_changes SET status = 'cancelled' WHERE target_staff_id = $1 AND status = 'pending'`, [staffId]);
  }

  page<R>(operatorId: string, q: PageQuery, map: (r: ControlChangeRow) => R): Promise<Page<R>> {
    return rawPage(this.ds, { select: 't.*', from: 'FROM control_changes t WHERE t.operator_id = $1', params: [operatorId] }, q, map);
  }
}
