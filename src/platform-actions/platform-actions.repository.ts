/** The platform_actions table (owned by `platform-actions`): every statement on it lives here. */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

export type PlatformActionStatus = 'pending_approval' | 'approved' | 'rejected' | 'expired';

export interface PlatformActionRow {
  id: string;
  kind: string;
  status: PlatformActionStatus;
  subject_type: string;
  subject_id: string;
  payload: Record<string, unknown>;
  requested_by: string;
  approved_by: string | null;
  reason: string | null;
  result: Record<string, unknown> | null;
  created_at: Date;
  decided_at: Date | null;
  expires_at: Date;
}

@Injectable()
export class PlatformActionsRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }

  async insert(
    em: EntityManager,
    a: Pick<PlatformActionRow, 'id' | 'kind' | 'status' | 'subject_type' | 'subject_id' | 'payload' | 'requested_by'> & {
      approvedBy: string | null;
      ttlSeconds: number;
    },
  ): Promise<PlatformActionRow> {
    const [row] = await em.query<PlatformActionRow[]>(
      `INSERT INTO platform_actions (id, kind, status, subject_type, subject_id, payload, requested_by, approved_by, decided_at, expires_at)
       VALUES ($1, $2, $3::varchar, $4, $5, $6::jsonb, $7, $8, CASE WHEN $3::varchar = 'pending_approval' THEN NULL ELSE now() END, now() + make_interval(secs => $9))
       RETURNING *`,
      [a.id, a.kind, a.status, a.subject_type, a.subject_id, JSON.stringify(a.payload), a.requested_by, a.approvedBy, a.ttlSeconds],
    );
    return row!;
  }

  /** The row, locked until `em` commits (approvals, rejections and the expiry serialise on it). */
  async lock(em: EntityManager, id: string): Promise<PlatformActionRow | undefined> {
    const [row] = await em.query<PlatformActionRow[]>('SELECT * FROM platform_actions WHERE id = $1 FOR UPDATE', [id]);
    return row;
  }

  async find(id: string): Promise<PlatformActionRow | undefined> {
    const [row] = await this.ds.query<PlatformActionRow[]>('SELECT * FROM platform_actions WHERE id = $1', [id]);
    return row;
  }

  async decide(
    em: EntityManager,
    id: string,
    d: {
      status: Exclude<PlatformActionStatus, 'pending_approval'>;
      approvedBy?: string;
      reason?: string;
      result?: Record<string, unknown>;
    },
  ): Promise<PlatformActionRow> {
    const [[row]] = await em.query<[PlatformActionRow[], number]>(
      `UPDATE platform_actions SET status = $2, approved_by = coalesce($3, approved_by), reason = coalesce($4, reason), result = $5::jsonb, decided_at = now()
        WHERE id = $1 RETURNING *`,
      [id, d.status, d.approvedBy ?? null, d.reason ?? null, d.result ? JSON.stringify(d.result) : null],
    );
    return row!;
  }

  async setResult(em: EntityManager, id: string, result: Record<string, unknown>): Promise<void> {
    await em.query('UPDATE platform_actions SET result = $2::jsonb WHERE id = $1', [id, JSON.stringify(result)]);
  }

  /** Newest first, keyset-paged on (created_at, id). */
  async page(limit: number, after: { createdAt: string; id: string } | undefined): Promise<PlatformActionRow[]> {
    return this.ds.query<PlatformActionRow[]>(
      `SELECT * FROM platform_actions ${after ? 'WHERE (created_at, id) < ($2::timestamptz, $3::uuid)' : ''} ORDER BY created_at DESC, id DESC LIMIT $1`,
      after ? [limit, after.createdAt, after.id] : [limit],
    );
  }
}
