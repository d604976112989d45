/**
 * Login, token checks, activation, password changes and the first admin. Failed logins
 * (wrong passwords and wrong one-time codes) are kept per loginId in PostgreSQL: 5 failures
 * within 15 minutes lock that loginId (429 ACCOUNT_LOCKED with Retry-After) until the oldest
 * of them is 15 minutes old. Never logs or returns a password, code or secret; activation
 * codes are stored as SHA-256 hashes only (128 random bits, one-time, 24 h).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditSink } from '../audit/audit-sink';
import { AppError } from '../common/app-error';
import { AppConfig } from '../config/app-config';
import { AuthRepository, type PrincipalRow } from './auth.repository';
import { FirmDirectory, type StaffState } from './firm-directory';
import { checkPasswordRules, Passwords } from './passwords';
import { actorOf, firmOf, type FirmRole, type Principal, type PrincipalType } from '../common/principal';
import { Tokens, type AccessClaims } from './tokens';
import { TotpService } from './totp.service';

const LOCKOUT_FAILURES = 5;
const LOCKOUT_WINDOW_SECONDS = 15 * 60;
const ACTIVATION_TTL_SECONDS = 24 * 3600;

export interface LoginResult {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  principal: { type: PrincipalType; id: string; operatorId?: string; roles?: FirmRole[] };
}

export interface MeResult {
  type: PrincipalType | 'api-key';
  id: string;
  loginId?: string;
  name: string;
  operatorId?: string;
  roles?: FirmRole[];
  mfaEnabled?: boolean;
  mustChangePassword?: boolean;
  ownerStaffId?: string;
}

/** A one-time activation code and what is stored of it. */
export function newActivationCode(): { code: string; hash: Buffer; expiresAt: Date } {
  const code = randomBytes(16).toString('base64url');
  return { code, hash: hashCode(code), expiresAt: new Date(Date.now() + ACTIVATION_TTL_SECONDS * 1000) };
}

const hashCode = (code: string) => createHash('sha256').update(code, 'utf8').digest();

@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly repo: AuthRepository,
    private readonly passwords: Passwords,
    private readonly tokens: Tokens,
    private readonly totp: TotpService,
    private readonly firms: FirmDirectory,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.offline) return;
    const { adminLoginId, adminPassword } = this.config.auth;
    if (!adminLoginId || !adminPassword) return;
    if (await this.repo.adminExists()) return;
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
    await this.repo.transaction(async (em) => {
      await this.repo.insertPrincipal(em, { id, type: 'admin', loginId, name, passwordHash });
      await this.audit.record(
        { actor, action: 'admin.create', subject: { type: 'admin', id }, outcome: 'success', details: { loginId } },
        em,
      );
    });
    return { id };
  }

  /** Inserts a principal; a taken loginId (any principal, any case) → 409 LOGIN_ID_TAKEN. */
  insertPrincipal(em: EntityManager, p: Parameters<AuthRepository['insertPrincipal']>[1]): Promise<void> {
    return this.repo.insertPrincipal(em, p);
  }

  /** A password hash that matches nothing: for members who activate with a code. */
  async unusablePasswordHash(): Promise<string> {
    return this.passwords.hash(randomBytes(32).toString('base64url'));
  }

  /**
   * The `local` strategy's check: loginId, password and (with TOTP on) the one-time code.
   * Returns the principal to issue a token for; every failure is counted toward the lockout.
   */
  async validateLogin(loginId: string, password: string, otp: string | undefined, requestId?: string): Promise<Principal> {
    const key = loginId.toLowerCase().slice(0, 64);
    await this.assertNotLocked(key, requestId);
    const row = await this.repo.byLogin(key);
    const ok = await this.passwords.verify(row?.password_hash, password);
    if (!row || !ok) throw await this.failLogin(key, row, requestId, 'password');
    const staff = row.type === 'operator' ? await this.firms.staffState(row.id) : undefined;
    if (row.type === 'operator' && (!staff || staff.status !== 'active' || staff.firmStatus !== 'active')) {
      await this.audit.record({
        actor: { type: 'staff', id: row.id },
        operatorId: staff?.operatorId ?? null,
        action: 'auth.login',
        subject: { type: row.type, id: row.id },
        outcome: 'denied',
        details: { reason: 'suspended' },
        requestId,
      });
      throw new AppError('ACCOUNT_SUSPENDED', 'This account is suspended');
    }
    if (row.totp_enabled) {
      if (otp === undefined) throw new AppError('MFA_REQUIRED', 'This account needs a one-time code (otp)');
      if (!(await this.totp.check(row.id, otp))) throw await this.failLogin(key, row, requestId, 'otp');
    }
    await this.repo.clearFailures(key);
    return this.principalOf(row, staff, 'jwt');
  }

  /** Issues an access token for a principal that passed `validateLogin` or activation. */
  async issue(p: Principal, requestId?: string): Promise<LoginResult> {
    const row = await this.repo.byId(p.id);
    if (!row) throw new AppError('INVALID_CREDENTIALS', 'The login id or the password is wrong');
    const { token } = this.tokens.issue(row.id, row.type, row.token_version);
    await this.audit.record({
      actor: actorOf(p),
      operatorId: firmOf(p) ?? null,
      action: 'auth.login',
      subject: { type: p.type, id: p.id },
      outcome: 'success',
      requestId,
    });
    return {
      accessToken: token,
      tokenType: 'Bearer',
      expiresIn: this.tokens.ttlSeconds,
      principal: p.type === 'operator' ? { type: p.type, id: p.id, operatorId: p.operatorId, roles: p.roles } : { type: p.type, id: p.id },
    };
  }

  /** Sets the first password with a one-time activation code; answers like a login. */
  async activate(loginId: string, code: string, newPassword: string, requestId?: string): Promise<LoginResult> {
    const key = loginId.toLowerCase().slice(0, 64);
    await this.assertNotLocked(key, requestId);
    const row = await this.repo.byLogin(key);
    if (!row) throw await this.failLogin(key, row, requestId, 'activation');
    checkPasswordRules(newPassword, row.login_id);
    const passwordHash = await this.passwords.hash(newPassword);
    const used = await this.repo.transaction(async (em) => {
      if (!(await this.repo.consumeActivation(em, row.id, hashCode(code)))) return false;
      await this.repo.setPassword(em, row.id, passwordHash, null);
      return true;
    });
    if (!used) throw await this.failLogin(key, row, requestId, 'activation');
    await this.repo.clearFailures(key);
    const fresh = await this.repo.byId(row.id);
    const staff = row.type === 'operator' ? await this.firms.staffState(row.id) : undefined;
    if (!fresh) throw new AppError('INVALID_CREDENTIALS');
    if (staff && (staff.status !== 'active' || staff.firmStatus !== 'active'))
      throw new AppError('ACCOUNT_SUSPENDED', 'This account is suspended');
    return this.issue(this.principalOf(fresh, staff, 'jwt'), requestId);
  }

  /** The `jwt` strategy's check of a verified token against the principal's current state; undefined = 401. */
  async principalFromClaims(claims: AccessClaims): Promise<Principal | undefined> {
    // A staff member's state is read beside the principal, not after it (one round trip of
    // latency per request); it counts only once the row confirms the token's type.
    const [row, staffRead] = await Promise.all([
      this.repo.byId(claims.sub),
      claims.typ === 'operator' ? this.firms.staffState(claims.sub) : Promise.resolve(undefined),
    ]);
    if (!row || row.type !== claims.typ || !this.versionAccepted(claims, row)) return undefined;
    const staff = row.type === 'operator' ? staffRead : undefined;
    if (row.type === 'operator') {
      if (!staff) return undefined;
      if (staff.status !== 'active' || staff.firmStatus !== 'active') throw new AppError('ACCOUNT_SUSPENDED', 'This account is suspended');
    }
    return { ...this.principalOf(row, staff, 'jwt'), tokenId: claims.jti };
  }

  async me(p: Principal): Promise<MeResult> {
    if (p.via === 'api-key')
      return { type: 'api-key', id: p.id, name: p.loginId, operatorId: p.operatorId, roles: p.roles, ownerStaffId: p.ownerStaffId };
    const row = await this.repo.byId(p.id);
    if (!row) throw new AppError('UNAUTHENTICATED');
    return {
      type: row.type,
      id: row.id,
      loginId: row.login_id,
      name: row.name,
      ...(p.type === 'operator' ? { operatorId: p.operatorId, roles: p.roles } : {}),
      mfaEnabled: row.totp_enabled,
      mustChangePassword: row.must_change_password,
    };
  }

  /** Changes the password and revokes every other token of the principal (the calling token survives). */
  async changePassword(p: Principal, currentPassword: string, newPassword: string, requestId?: string): Promise<void> {
    if (p.via === 'api-key') throw new AppError('FORBIDDEN', 'An API key has no password');
    const row = await this.repo.byId(p.id);
    if (!row) throw new AppError('UNAUTHENTICATED');
    const base = {
      actor: actorOf(p),
      operatorId: firmOf(p) ?? null,
      action: 'auth.password.change',
      subject: { type: p.type, id: p.id },
      requestId,
    };
    if (!(await this.passwords.verify(row.password_hash, currentPassword))) {
      await this.audit.record({ ...base, outcome: 'failure' });
      throw new AppError('INVALID_CREDENTIALS', 'The current password is wrong');
    }
    checkPasswordRules(newPassword, row.login_id);
    const passwordHash = await this.passwords.hash(newPassword);
    await this.repo.transaction(async (em) => {
      await this.repo.setPassword(em, p.id, passwordHash, p.tokenId ?? null);
      await this.audit.record({ ...base, outcome: 'success' }, em);
    });
  }

  /** Revokes every token of a principal at once (suspension). */
  revokeAll(em: EntityManager, principalId: string): Promise<void> {
    return this.repo.revokeAll(em, principalId);
  }

  /** Clears a member's (or an admin's) TOTP; the caller checks who may and audits. */
  resetTotp(em: EntityManager, principalId: string): Promise<void> {
    return this.repo.clearTotp(em, principalId);
  }

  /** Public principal facts (name, loginId, MFA, must-change) for the staff listing. */
  async facts(ids: string[]): Promise<Map<string, { loginId: string; name: string; mfaEnabled: boolean; mustChangePassword: boolean }>> {
    const rows = await this.repo.byIds(ids);
    return new Map(
      rows.map((r) => [
        r.id,
        { loginId: r.login_id, name: r.name, mfaEnabled: r.totp_enabled, mustChangePassword: r.must_change_password },
      ]),
    );
  }

  /** For the secure-room CLI: an admin's credentials, checked like a login (lockout included). */
  async verifyAdmin(loginId: string, password: string, otp?: string): Promise<{ id: string; loginId: string }> {
    const p = await this.validateLogin(loginId, password, otp);
    if (p.type !== 'admin') throw new AppError('FORBIDDEN', 'Only a platform admin may do this');
    await this.issue(p);
    return { id: p.id, loginId };
  }

  private principalOf(row: PrincipalRow, staff: StaffState | undefined, via: 'jwt'): Principal {
    return {
      type: row.type,
      id: row.id,
      loginId: row.login_id,
      ...(staff ? { operatorId: staff.operatorId, roles: staff.roles } : {}),
      via,
      mfaEnabled: row.totp_enabled,
      mustChangePassword: row.must_change_password,
    };
  }

  private async failLogin(key: string, row: PrincipalRow | undefined, requestId: string | undefined, reason: string): Promise<AppError> {
    await this.repo.recordFailure(key);
    const staff = row?.type === 'operator' ? await this.firms.staffState(row.id) : undefined;
    await this.audit.record({
      actor: { type: 'anonymous' },
      operatorId: staff?.operatorId ?? null,
      action: reason === 'activation' ? 'auth.activate' : 'auth.login',
      subject: row ? { type: row.type, id: row.id } : null,
      outcome: 'failure',
      details: { loginId: key, reason },
      requestId,
    });
    return new AppError('INVALID_CREDENTIALS', 'The login id or the password is wrong');
  }

  private versionAccepted(c: AccessClaims, row: PrincipalRow): boolean {
    if (c.tv === row.token_version) return true;
    // The token that changed the password stays valid: it carries the previous version.
    return row.exempt_jti !== null && c.jti === row.exempt_jti && c.tv === row.token_version - 1;
  }

  private async assertNotLocked(key: string, requestId?: string): Promise<void> {
    const r = await this.repo.recentFailures(key, LOCKOUT_WINDOW_SECONDS, LOCKOUT_FAILURES);
    if (r.n >= LOCKOUT_FAILURES) {
      const retry = Math.max(1, Math.ceil(r.retry ?? LOCKOUT_WINDOW_SECONDS));
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
}
