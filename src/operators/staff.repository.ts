/**
 * The staff table: who belongs to which firm, with which roles and status. Also the
 * FirmDirectory the auth module reads on every request (one indexed join).
 */
import { Injectable } from '@nestjs/common';
import { rowsOf } from '../common/sql-rows';
import { DataSource, type EntityManager } from 'typeorm';
import { FirmDirectory, type StaffState } from '../auth/firm-directory';
import type { FirmRole } from '../common/principal';
import type { Page, PageQuery } from '../common/pagination';
import { rawPage } from '../common/raw-page';

export interface StaffRow {
  id: string;
  operator_id: string;
  email: string;
  roles: FirmRole[];
  status: 'active' | 'suspended';
  created_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@Injectable()
export class StaffRepository extends FirmDirectory {
  constructor(private readonly ds: DataSource) {
    super();
  }

  async staffState(staffId: string): Promise<StaffState | undefined> {
    if (!UUID.test(staffId)) return undefined;
    const rows = await this.ds.query<
      Array<{ operator_id: string; roles: FirmRole[]; status: StaffState['status']; firm_status: StaffState['firmStatus'] }>
    >(
      `SELECT s.operator_id, s.roles, s.status, o.status AS firm_status FROM staff s JOIN operators o ON o.id = s.operator_id WHERE s.id = $1`,
      [staffId],
    );
    const r = rows[0];
    return r ? { operatorId: r.operator_id, roles: r.roles, status: r.status, firmStatus: r.firm_status } : undefined;
  }

  async firmStatus(operatorId: string): Promise<'active' | 'suspended' | undefined> {
    if (!UUID.test(operatorId)) return undefined;
    const rows = await this.ds.query<Array<{ status: 'active' | 'suspended' }>>(`SELECT status FROM operators WHERE id = $1`, [operatorId]);
    return rows[0]?.status;
  }

  async insert(em: EntityManager, s: { id: string; operatorId: string; email: string; roles: FirmRole[] }): Promise<void> {
    await em.query(`INSERT INTO staff (id, operator_id, email, roles, status) VALUES ($1, $2, $3, $4, 'active')`, [
      s.id,
      s.operatorId,
      s.email,
      s.roles,
    ]);
  }

  async byId(operatorId: string, staffId: string, em?: EntityManager): Promise<StaffRow | undefined> {
    if (!UUID.test(staffId)) return undefined;
    const rows = await (em ?? this.ds).query<StaffRow[]>(`SELECT * FROM staff WHERE id = $1 AND operator_id = $2`, [staffId, operatorId]);
    return rows[0];
  }

  async idsOf(em: EntityManager, operatorId: string): Promise<string[]> {
    const rows = await em.query<Array<{ id: string }>>(`SELECT id FROM staff WHERE operator_id = $1`, [operatorId]);
    return rows.map((r) => r.id);
  }

  page<R>(operatorId: string, query: PageQuery, map: (r: StaffRow) => R): Promise<Page<R>> {
    return rawPage(this.ds, { select: 't.*', from: 'FROM staff t WHERE t.operator_id = $1', params: [operatorId] }, query, map);
  }

  /** Active firm-admins of the firm other than `exceptId`. */
  async otherActiveFirmAdmins(em: EntityManager | undefined, operatorId: string, exceptId?: string): Promise<string[]> {
    const rows = await (em ?? this.ds).query<Array<{ id: string }>>(
      `SELECT id FROM staff WHERE operator_id = $1 AND status = 'active' AND 'firm-admin' = ANY(roles) AND ($2::uuid IS NULL OR id <> $2)`,
      [operatorId, exceptId ?? null],
    );
    return rows.map((r) => r.id);
  }

  async update(em: EntityManager, staffId: string, patch: { roles?: FirmRole[]; status?: 'active' | 'suspended' }): Promise<void> {
    if (patch.roles) await em.query(`UPDATE staff SET roles = $2 WHERE id = $1`, [staffId, patch.roles]);
    if (patch.status) await em.query(`UPDATE staff SET status = $2 WHERE id = $1`, [staffId, patch.status]);
  }

  /** Adds roles (a control change taking effect); false when the member is gone or suspended. */
  async addRoles(em: EntityManager, staffId: string, roles: FirmRole[]): Promise<boolean> {
    const rows = rowsOf<unknown>(
      await em.query(
        `UPDATE staff SET roles = ARRAY(SELECT DISTINCT unnest(roles || $2::varchar(16)[])) WHERE id = $1 AND status = 'active' RETURNING id`,
        [staffId, roles],
      ),
    );
    return rows.length > 0;
  }
}
