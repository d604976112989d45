/**
 * The auth module's tables: principals (admins and staff logins, password hashes, token
 * versions, activation-code hashes, sealed TOTP secrets), login failures and API keys.
 * Holds only hashes and envelope ciphertexts, never a secret in clear.
 */
import { Injectable } from '@nestjs/common';
import { rowsOf } from '../common/sql-rows';
import { DataSource, type EntityManager } from 'typeorm';
import { AppError } from '../common/app-error';
import type { Page, PageQuery } from '../common/pagination';
import { rawPage } from '../common/raw-page';
import type { SealedSecret } from '../kms/envelope';
import type { FirmRole, PrincipalType } from '../common/principal';

export interface PrincipalRow {
  id: string;
  type: PrincipalType;
  login_id: string;
  name: string;
  password_hash: string;
  token_version: number;
  exempt_jti: string | null;
  must_change_password: boolean;
  totp_enabled: boolean;
  activation_code_hash: Buffer | null;
  activation_expires_at: Date | null;
  created_at: Date;
}

export interface ApiKeyRow {
  id: string;
  operator_id: string;
  name: string;
  prefix: string;
  secret_hash: Buffer;
  roles: FirmRole[];
  owner_staff_id: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const PRINCIPAL_COLUMNS = `id, type, login_id, name, password_hash, token_version, exempt_jti, must_change_password, totp_enabled,
  activation_code_hash, activation_expires_at, created_at`;

@Injectable()
export class AuthRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  private q(em?: EntityManager): EntityManager | DataSource {
    return em ?? this.ds;
  }

  async adminExists(): Promise<boolean> {
    const rows = await this.ds.query<unknown[]>(`SELECT 1 FROM principals WHERE type = 'admin' LIMIT 1`);
    return rows.length > 0;
  }

  /** Inserts a principal; a taken loginId (any principal, any case) → 409 LOGIN_ID_TAKEN. */
  async insertPrincipal(
    em: EntityManager,
    p: {
      id: string;
      type: PrincipalType;
      loginId: string;
      name: string;
      passwordHash: string;
      mustChangePassword?: boolean;
      activation?: { codeHash: Buffer; expiresAt: Date };
    },
  ): Promise<void> {
    try {
      await em.query(
        `INSERT INTO principals (id, type, login_id, name, password_hash, token_version, must_change_password, activation_code_hash, activation_expires_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8)`,
        [
          p.id,
          p.type,
          p.loginId,
          p.name,
          p.passwordHash,
          p.mustChangePassword ?? false,
          p.activation?.codeHash ?? null,
          p.activation?.expiresAt ?? null,
        ],
      );
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new AppError('LOGIN_ID_TAKEN', 'This login id is already used');
      throw e;
    }
  }

  async byLogin(key: string): Promise<PrincipalRow | undefined> {
    const rows = await this.ds.query<PrincipalRow[]>(`SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE lower(login_id) = $1`, [key]);
    return rows[0];
  }

  async byId(id: string, em?: EntityManager): Promise<PrincipalRow | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const rows = await this.q(em).query<PrincipalRow[]>(`SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE id = $1`, [id]);
    return rows[0];
  }

  async byIds(ids: string[]): Promise<PrincipalRow[]> {
    if (!ids.length) return [];
    return this.ds.query<PrincipalRow[]>(`SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE id = ANY($1::uuid[])`, [ids]);
  }

  async recordFailure(key: string): Promise<void> {
    await this.ds.query(`INSERT INTO login_failures (login_key) VALUES ($1)`, [key]);
  }

  async clearFailures(key: string): Promise<void> {
    await this.ds.query(`DELETE FROM login_failures WHERE login_key = $1`, [key]);
  }

  /** Failures within the window (at most `limit` counted) and seconds until the oldest of them leaves it. */
  async recentFailures(key: string, windowSeconds: number, limit: number): Promise<{ n: number; retry: number | null }> {
    const rows = await this.ds.query<Array<{ n: number; retry: string | null }>>(
      `SELECT count(*)::int AS n, EXTRACT(EPOCH FROM (min(at) + make_interval(secs => $2) - now())) AS retry
         FROM (SELECT at FROM login_failures WHERE login_key = $1 AND at > now() - make_interval(secs => $2) ORDER BY at DESC LIMIT $3) recent`,
      [key, windowSeconds, limit],
    );
    return { n: rows[0]?.n ?? 0, retry: rows[0]?.retry == null ? null : Number(rows[0].retry) };
  }

  /** New password; every token but `exemptJti` revoked; must-change and any activation code cleared. */
  async setPassword(em: EntityManager, id: string, passwordHash: string, exemptJti: string | null): Promise<void> {
    await em.query(
      `UPDATE principals SET password_hash = $1, token_version = token_version + 1, exempt_jti = $2, must_change_password = false,
         activation_code_hash = NULL, activation_expires_at = NULL, updated_at = now() WHERE id = $3`,
      [passwordHash, exemptJti, id],
    );
  }

  /** Consumes an activation code (one-time): true when it matched, was unexpired and is now gone. */
  async consumeActivation(em: EntityManager, id: string, codeHash: Buffer): Promise<boolean> {
    const rows = rowsOf<unknown>(
      await em.query(
        `UPDATE principals SET activation_code_hash = NULL, activation_expires_at = NULL
        WHERE id = $1 AND activation_code_hash = $2 AND activation_expires_at > now() RETURNING id`,
        [id, codeHash],
      ),
    );
    return rows.length > 0;
  }

  async revokeAll(em: EntityManager, principalId: string): Promise<void> {
    await em.query('UPDATE principals SET token_version = token_version + 1, exempt_jti = NULL, updated_at = now() WHERE id = $1', [
      principalId,
    ]);
  }

  // --- TOTP (sealed secrets only) ---

  async totpSealed(id: string, which: 'active' | 'pending'): Promise<{ sealed: SealedSecret; lastStep: number | null } | undefined> {
    const p = which === 'active' ? 'totp_' : 'totp_pending_';
    const rows = await this.ds.query<Array<{ s: Buffer | null; dk: Buffer | null; kid: string | null; last: string | null }>>(
      `SELECT ${p}secret AS s, ${p}data_key AS dk, ${p}kms_key_id AS kid, totp_last_step AS last FROM principals WHERE id = $1`,
      [id],
    );
    const r = rows[0];
    if (!r?.s || !r.dk || !r.kid) return undefined;
    return { sealed: { encryptedKey: r.s, encryptedDataKey: r.dk, kmsKeyId: r.kid }, lastStep: r.last === null ? null : Number(r.last) };
  }

  async setPendingTotp(id: string, sealed: SealedSecret): Promise<void> {
    await this.ds.query(
      `UPDATE principals SET totp_pending_secret = $2, totp_pending_data_key = $3, totp_pending_kms_key_id = $4, updated_at = now() WHERE id = $1`,
      [id, sealed.encryptedKey, sealed.encryptedDataKey, sealed.kmsKeyId],
    );
  }

  /** The pending secret becomes the active one, with `step` already used. */
  async activatePendingTotp(em: EntityManager, id: string, step: number): Promise<void> {
    await em.query(
      `UPDATE principals SET totp_secret = totp_pending_secret, totp_data_key = totp_pending_data_key, totp_kms_key_id = totp_pending_kms_key_id,
         totp_pending_secret = NULL, totp_pending_data_key = NULL, totp_pending_kms_key_id = NULL,
         totp_enabled = true, totp_last_step = $2, updated_at = now() WHERE id = $1`,
      [id, step],
    );
  }

  /** Marks a 30-s step used; false when it (or a later one) was used already. */
  async useTotpStep(id: string, step: number): Promise<boolean> {
    const rows = rowsOf<unknown>(
      await this.ds.query(
        `UPDATE principals SET totp_last_step = $2 WHERE id = $1 AND totp_enabled AND (totp_last_step IS NULL OR totp_last_step < $2) RETURNING id`,
        [id, step],
      ),
    );
    return rows.length > 0;
  }

  async clearTotp(em: EntityManager | undefined, id: string): Promise<void> {
    await this.q(em).query(
      `UPDATE principals SET totp_enabled = false, totp_secret = NULL, totp_data_key = NULL, totp_kms_key_id = NULL,
         totp_pending_secret = NULL, totp_pending_data_key = NULL, totp_pending_kms_key_id = NULL, totp_last_step = NULL, updated_at = now()
       WHERE id = $1`,
      [id],
    );
  }

  // --- API keys (SHA-256 of the secret only) ---

  async insertApiKey(
    em: EntityManager,
    k: {
      id: string;
      operatorId: string;
      name: string;
      prefix: string;
      secretHash: Buffer;
      roles: FirmRole[];
      ownerStaffId: string;
      createdBy: string;
      expiresAt: Date | null;
    },
  ): Promise<ApiKeyRow> {
    const rows = await em.query<ApiKeyRow[]>(
      `INSERT INTO api_keys (id, operator_id, name, prefix, secret_hash, roles, owner_staff_id, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
      [k.id, k.operatorId, k.name, k.prefix, k.secretHash, k.roles, k.ownerStaffId, k.createdBy, k.expiresAt],
    );
    return rows[0] as ApiKeyRow;
  }

  async apiKeyByPrefix(prefix: string): Promise<ApiKeyRow | undefined> {
    const rows = await this.ds.query<ApiKeyRow[]>(`SELECT * FROM api_keys WHERE prefix = $1`, [prefix]);
    return rows[0];
  }

  async apiKeyById(operatorId: string, id: string): Promise<ApiKeyRow | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const rows = await this.ds.query<ApiKeyRow[]>(`SELECT * FROM api_keys WHERE id = $1 AND operator_id = $2`, [id, operatorId]);
    return rows[0];
  }

  /** A page of a firm's keys, newest first. */
  apiKeysPage<R>(operatorId: string, query: PageQuery, map: (r: ApiKeyRow) => R): Promise<Page<R>> {
    return rawPage(this.ds, { select: 't.*', from: 'FROM api_keys t WHERE t.operator_id = $1', params: [operatorId] }, query, map);
  }

  async revokeApiKey(em: EntityManager, operatorId: string, id: string): Promise<boolean> {
    const rows = rowsOf<unknown>(
      await em.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND operator_id = $2 AND revoked_at IS NULL RETURNING id`, [
        id,
        operatorId,
      ]),
    );
    return rows.length > 0;
  }

  async touchApiKey(id: string): Promise<void> {
    await this.ds.query(`UPDATE api_keys SET last_used_at = now() WHERE id = $1`, [id]);
  }
}
