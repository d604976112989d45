/**
 * admin_profiles (owned by `admins`): an admin's e-mail address. The admin itself is a row of
 * `principals` (owned by `auth`, created through AuthService); the list reads both, joined.
 */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

export interface AdminRow {
  id: string;
  login_id: string;
  name: string;
  email: string | null;
  totp_enabled: boolean;
  created_at: Date;
}

@Injectable()
export class AdminsRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(fn: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }

  async insertProfile(em: EntityManager, id: string, email: string): Promise<void> {
    await em.query('INSERT INTO admin_profiles (id, email) VALUES ($1, $2)', [id, email]);
  }

  async one(id: string): Promise<AdminRow | undefined> {
    const [r] = await this.ds.query<AdminRow[]>(
      `SELECT p.id, p.login_id, p.name, a.email, p.totp_enabled, p.created_at FROM principals p LEFT JOIN admin_profiles a ON a.id = p.id
        WHERE p.id = $1 AND p.type = 'admin'`,
      [id],
    );
    return r;
  }

  /** Newest first, keyset-paged on (created_at, id). */
  page(limit: number, after: { createdAt: string; id: string } | undefined): Promise<AdminRow[]> {
    return this.ds.query<AdminRow[]>(
      `SELECT p.id, p.login_id, p.name, a.email, p.totp_enabled, p.created_at FROM principals p LEFT JOIN admin_profiles a ON a.id = p.id
        WHERE p.type = 'admin' ${after ? 'AND (p.created_at, p.id) < ($2::timestamptz, $3::uuid)' : ''}
        ORDER BY p.created_at DESC, p.id DESC LIMIT $1`,
      after ? [limit, after.createdAt, after.id] : [limit],
    );
  }
}
