/**
 * Login, token checks, password changes and the first admin. Failed logins are kept
 * per loginId in PostgreSQL: 5 failures within 15 minutes lock that loginId (429
 * ACCOUNT_LOCKED with Retry-After) until the oldest of them is 15 minutes old.
 */
import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { AppError } from '../common/app-error';
import { AppConfig } from '../config/app-config';
import { LoginFailure } from './entities/login-failure.entity';
import { Principal as PrincipalRow } from './entities/principal.entity';
import { checkPasswordRules, Passwords } from './passwords';
import type { Principal, PrincipalType } from './principal';
import { Tokens, type AccessClaims } from './tokens';

export const LOCKOUT_FAILURES = 5;
export const LOCKOUT_WINDOW_SECONDS = 15 * 60;

export interface LoginResult {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  principal: { type: PrincipalType; id: string };
}

interface PrincipalState {
  id: string;
  type: PrincipalType;
  login_id: string;
  token_version: number;
  exempt_jti: string | null;
  status: string | null;
}

@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly ds: DataSource,
    private readonly passwords: Passwords,
    private readonly tokens: Tokens,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.offline) return;
    const { adminLoginId, adminPassword } = this.config.auth;
    if (!adminLoginId || !adminPassword) return;
    const exists = await this.ds.getRepository(PrincipalRow).exists({ where: { type: 'admin' } });
    if (exists) return;
    try {
      await this.createAdmin(adminLoginId, adminPassword, 'Platform admin', { type: 'system' });
      this.logger.log(`created the first platform admin "${adminLoginId}"`);
    } catch (e) {
      // Another instance starting at the same time created it first.
      if (!(e instanceof AppError && e.code === 'LOGIN_ID_TAKEN')) throw e;
    }
  }

  async createAdmin(
    loginId: string,
    password: string,
    name: string,
    actor: { type: 'system' | 'cli' | 'admin'; id?: string },
  ): Promise<{ id: string }> {
    checkPasswordRules(password, loginId);
    const id = randomUUID();
    const passwordHash = await this.passwords.hash(password);
    await this.ds.transaction(async (em) => {
      await this.insertPrincipal(em, { id, type: 'admin', loginId, name, passwordHash });
      await this.audit.record(
        { actor, action: 'admin.create', subject: { type: 'admin', id }, outcome: 'success', details: { loginId } },
        em,
      );
    });
    return { id };
  }

  /** Inserts a principal; a taken loginId (any principal, any case) → 409 LOGIN_ID_TAKEN. */
  async insertPrincipal(
    em: EntityManager,
    p: { id: string; type: PrincipalType; loginId: string; name: string; passwordHash: string },
  ): Promise<void> {
    try {
      await em.getRepository(PrincipalRow).insert({ ...p, tokenVersion: 1, exemptJti: null });
    } catch (e) {
      if ((e as { code?: string }).code === '23505') throw new AppError('LOGIN_ID_TAKEN', 'This login id is already used');
      throw e;
    }
  }

  async login(loginId: string, password: string, requestId?: string): Promise<LoginResult> {
    const key = loginId.toLowerCase().slice(0, 64);
    await this.assertNotLocked(key, requestId);
    const row = await this.loadByLogin(key);
    const ok = await this.passwords.verify(row?.password_hash, password);
    if (!row || !ok) {
      await this.ds.getRepository(LoginFailure).insert({ loginKey: key });
      await this.audit.record({
        actor: { type: 'anonymous' },
        operatorId: row?.type === 'operator' ? row.id : null,
        action: 'auth.login',
        subject: row ? { type: row.type, id: row.id } : null,
        outcome: 'failure',
        details: { loginId: key },
        requestId,
      });
      throw new AppError('INVALID_CREDENTIALS', 'The login id or the password is wrong');
    }
    if (row.status === 'suspended') {
      await this.audit.record({
        actor: { type: row.type, id: row.id },
        operatorId: row.id,
        action: 'auth.login',
        subject: { type: row.type, id: row.id },
        outcome: 'denied',
        details: { reason: 'suspended' },
        requestId,
      });
      throw new AppError('ACCOUNT_SUSPENDED', 'This account is suspended');
    }
    await this.ds.getRepository(LoginFailure).delete({ loginKey: key });
    const { token } = this.tokens.issue(row.id, row.type, row.token_version);
    await this.audit.record({
      actor: { type: row.type, id: row.id },
      operatorId: row.type === 'operator' ? row.id : null,
      action: 'auth.login',
      subject: { type: row.type, id: row.id },
      outcome: 'success',
      requestId,
    });
    return { accessToken: token, tokenType: 'Bearer', expiresIn: this.tokens.ttlSeconds, principal: { type: row.type, id: row.id } };
  }

  /** Checks a bearer token against the principal's current state; undefined = 401. */
  async authenticate(token: string): Promise<Principal | undefined> {
    const claims = this.tokens.verify(token);
    if (!claims) return undefined;
    const row = await this.loadState(claims.sub);
    if (!row || row.type !== claims.typ || !this.versionAccepted(claims, row)) return undefined;
    if (row.status === 'suspended') throw new AppError('ACCOUNT_SUSPENDED', 'This account is suspended');
    return { type: row.type, id: row.id, loginId: row.login_id, tokenId: claims.jti };
  }

  async me(p: Principal): Promise<{ type: PrincipalType; id: string; loginId: string; name: string }> {
    const row = await this.ds.getRepository(PrincipalRow).findOneByOrFail({ id: p.id });
    return { type: row.type, id: row.id, loginId: row.loginId, name: row.name };
  }

  /** Changes the password and revokes every other token of the principal (the calling token survives). */
  async changePassword(p: Principal, currentPassword: string, newPassword: string, requestId?: string): Promise<void> {
    const row = await this.ds.getRepository(PrincipalRow).findOneByOrFail({ id: p.id });
    if (!(await this.passwords.verify(row.passwordHash, currentPassword))) {
      await this.audit.record({
        actor: { type: p.type, id: p.id },
        operatorId: p.type === 'operator' ? p.id : null,
        action: 'auth.password.change',
        subject: { type: p.type, id: p.id },
        outcome: 'failure',
        requestId,
      });
      throw new AppError('INVALID_CREDENTIALS', 'The current password is wrong');
    }
    checkPasswordRules(newPassword, row.loginId);
    const passwordHash = await this.passwords.hash(newPassword);
    await this.ds.transaction(async (em) => {
      await em.query(
        'UPDATE principals SET password_hash = $1, token_version = token_version + 1, exempt_jti = $2, updated_at = now() WHERE id = $3',
        [passwordHash, p.tokenId ?? null, p.id],
      );
      await this.audit.record(
        {
          actor: { type: p.type, id: p.id },
          operatorId: p.type === 'operator' ? p.id : null,
          action: 'auth.password.change',
          subject: { type: p.type, id: p.id },
          outcome: 'success',
          requestId,
        },
        em,
      );
    });
  }

  /** Revokes every token of a principal at once (suspension). */
  async revokeAll(em: EntityManager, principalId: string): Promise<void> {
    await em.query('UPDATE principals SET token_version = token_version + 1, exempt_jti = NULL, updated_at = now() WHERE id = $1', [
      principalId,
    ]);
  }

  /** For the secure-room CLI: an admin's credentials, checked like a login (lockout included). */
  async verifyAdmin(loginId: string, password: string): Promise<{ id: string; loginId: string }> {
    const result = await this.login(loginId, password);
    if (result.principal.type !== 'admin') throw new AppError('FORBIDDEN', 'Only a platform admin may do this');
    return { id: result.principal.id, loginId };
  }

  private versionAccepted(c: AccessClaims, row: PrincipalState): boolean {
    if (c.tv === row.token_version) return true;
    // The token that changed the password stays valid: it carries the previous version.
    return row.exempt_jti !== null && c.jti === row.exempt_jti && c.tv === row.token_version - 1;
  }

  private async assertNotLocked(key: string, requestId?: string): Promise<void> {
    const rows = await this.ds.query<Array<{ n: number; retry: string | null }>>(
      `SELECT count(*)::int AS n, EXTRACT(EPOCH FROM (min(at) + make_interval(secs => $2) - now())) AS retry
         FROM (SELECT at FROM login_failures WHERE login_key = $1 AND at > now() - make_interval(secs => $2) ORDER BY at DESC LIMIT $3) recent`,
      [key, LOCKOUT_WINDOW_SECONDS, LOCKOUT_FAILURES],
    );
    const r = rows[0];
    if (r && r.n >= LOCKOUT_FAILURES) {
      const retry = Math.max(1, Math.ceil(Number(r.retry ?? LOCKOUT_WINDOW_SECONDS)));
      await this.audit.record({
        actor: { type: 'anonymous' },
        action: 'auth.lockout',
        subject: null,
        outcome: 'denied',
        details: { loginId: key, retryAfterSeconds: retry },
        requestId,
      });
      throw new AppError('ACCOUNT_LOCKED', 'Too many failed logins for this login id; retry later', {
        headers: { 'Retry-After': String(retry) },
      });
    }
  }

  private async loadByLogin(key: string): Promise<(PrincipalState & { password_hash: string }) | undefined> {
    const rows = await this.ds.query<Array<PrincipalState & { password_hash: string }>>(
      `SELECT p.id, p.type, p.login_id, p.password_hash, p.token_version, p.exempt_jti, o.status
         FROM principals p LEFT JOIN operators o ON o.id = p.id WHERE lower(p.login_id) = $1`,
      [key],
    );
    return rows[0];
  }

  private async loadState(id: string): Promise<PrincipalState | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const rows = await this.ds.query<PrincipalState[]>(
      `SELECT p.id, p.type, p.login_id, p.token_version, p.exempt_jti, o.status FROM principals p LEFT JOIN operators o ON o.id = p.id WHERE p.id = $1`,
      [id],
    );
    return rows[0];
  }
}
