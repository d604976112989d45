/** The operator_applications table (¶0035): a firm's application with its own password, stored as an argon2id hash only. */
import { Injectable } from '@nestjs/common';
import { rowsOf } from '../common/sql-rows';
import { DataSource, type EntityManager } from 'typeorm';
import type { Page, PageQuery } from '../common/pagination';
import { rawPage } from '../common/raw-page';

export interface ApplicationRow {
  id: string;
  firm_name: string;
  email: string;
  password_hash: string;
  /** As stored; `expired` is computed from expires_at. */
  status: 'pending' | 'approved' | 'rejected';
  expired: boolean;
  created_at: Date;
}

const SELECT = `t.id, t.firm_name, t.email, t.password_hash, t.status, t.created_at, (t.status = 'pending' AND t.expires_at <= now()) AS expired`;

@Injectable()
export class ApplicationsRepository {
  constructor(private readonly ds: DataSource) {}

  async insert(a: { id: string; firmName: string; email: string; passwordHash: string; ttlSeconds: number }): Promise<void> {
    await this.ds.query(
      `INSERT INTO operator_applications (id, firm_name, email, password_hash, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
      [a.id, a.firmName, a.email, a.passwordHash, a.ttlSeconds],
    );
  }

  async byId(id: string): Promise<ApplicationRow | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const rows = await this.ds.query<ApplicationRow[]>(`SELECT ${SELECT} FROM operator_applications t WHERE t.id = $1`, [id]);
    return rows[0];
  }

  /** Decides a pending, unexpired application; false when it was already decided or expired. */
  async decide(
    em: EntityManager | undefined,
    id: string,
    d: { status: 'approved' | 'rejected'; decidedBy: string; operatorId?: string; reason?: string },
  ): Promise<boolean> {
    const rows = rowsOf<unknown>(
      await (em ?? this.ds).query(
        `UPDATE operator_applications SET status = $2::varchar, decided_by = $3, decided_at = now(), operator_id = $4, reason = $5,
         password_hash = CASE WHEN $2::varchar = 'rejected' THEN '' ELSE password_hash END
       WHERE id = $1 AND status = 'pending' AND expires_at > now() RETURNING id`,
        [id, d.status, d.decidedBy, d.operatorId ?? null, d.reason ?? null],
      ),
    );
    return rows.length > 0;
  }

  page<R>(q: PageQuery, map: (r: ApplicationRow) => R): Promise<Page<R>> {
    return rawPage(this.ds, { select: SELECT, from: 'FROM operator_applications t WHERE true', params: [] }, q, map);
  }
}
