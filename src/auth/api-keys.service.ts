/**
 * API keys for a firm's back-office systems: `kagi_<prefix>_<secret>` with a 256-bit
 * secret, shown once at creation and stored as its SHA-256 only (a hash of a random
 * 256-bit secret needs no slow KDF), compared in constant time. A key holds `maker`
 * and/or `viewer`, never `checker` or `firm-admin`; it has an owner whose requests its
 * requests count as (SELF_APPROVAL). Revocation and expiry act at the next request.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { Injectable } from '@nestjs/common';
import { AuditSink } from '../audit/audit-sink';
import { AppError, NotFoundError, ValidationError } from '../common/app-error';
import type { Page, PageQuery } from '../common/pagination';
import { AppConfig } from '../config/app-config';
import { AuthRepository, type ApiKeyRow } from './auth.repository';
import { FirmDirectory } from './firm-directory';
import { actorOf, firmOf, type FirmRole, type Principal } from '../common/principal';
import { RateLimiter } from './rate-limiter';

const KEY_FORMAT = /^kagi_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
/** lastUsedAt is written at most this often per key (it is a hint, not an audit record). */
const TOUCH_EVERY_MS = 30_000;

export interface ApiKeyView {
  id: string;
  name: string;
  roles: FirmRole[];
  ownerStaffId: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

function view(r: ApiKeyRow): ApiKeyView {
  return {
    id: r.id,
    name: r.name,
    roles: r.roles,
    ownerStaffId: r.owner_staff_id,
    prefix: r.prefix,
    createdAt: new Date(r.created_at).toISOString(),
    expiresAt: r.expires_at ? new Date(r.expires_at).toISOString() : null,
    lastUsedAt: r.last_used_at ? new Date(r.last_used_at).toISOString() : null,
    revokedAt: r.revoked_at ? new Date(r.revoked_at).toISOString() : null,
  };
}

/** Told inside the revocation's transaction (the transactions side cancels the key's queued and pending requests). */
export type ApiKeyRevocationListener = (em: EntityManager, operatorId: string, apiKeyId: string) => Promise<void>;

@Injectable()
export class ApiKeysService {
  private readonly touched = new Map<string, number>();
  private readonly revocationListeners: ApiKeyRevocationListener[] = [];

  constructor(
    private readonly repo: AuthRepository,
    private readonly firms: FirmDirectory,
    private readonly limiter: RateLimiter,
    private readonly audit: AuditSink,
    private readonly config: AppConfig,
  ) {}

  async create(
    p: Principal,
    dto: { name: string; roles: FirmRole[]; ownerStaffId?: string; expiresAt?: string },
    requestId?: string,
  ): Promise<Omit<ApiKeyView, 'lastUsedAt' | 'revokedAt'> & { key: string }> {
    const operatorId = firmOf(p);
    if (!operatorId || p.via === 'api-key') throw new AppError('FORBIDDEN', 'Only a firm-admin creates API keys');
    const ownerStaffId = dto.ownerStaffId ?? p.id;
    const owner = await this.firms.staffState(ownerStaffId);
    // Another firm's member is answered as an unknown one.
    if (!owner || owner.operatorId !== operatorId) throw new NotFoundError('Staff member');
    const expiresAt = dto.expiresAt ? new Date(dto.expiresAt) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now())
      throw new ValidationError([{ field: 'expiresAt', message: 'expiresAt must be in the future' }]);
    const prefix = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const id = randomUUID();
    const roles = [...new Set(dto.roles)];
    const row = await this.repo.transaction(async (em) => {
      const r = await this.repo.insertApiKey(em, {
        id,
        operatorId,
        name: dto.name,
        prefix,
        secretHash: sha256(secret),
        roles,
        ownerStaffId,
        createdBy: p.id,
        expiresAt,
      });
      await this.audit.record(
        {
          actor: actorOf(p),
          operatorId,
          action: 'api-key.create',
          subject: { type: 'api-key', id },
          outcome: 'success',
          details: { name: dto.name, prefix, roles, ownerStaffId, expiresAt: expiresAt?.toISOString() ?? null },
          requestId,
        },
        em,
      );
      return r;
    });
    const { lastUsedAt: _l, revokedAt: _r, ...rest } = view(row);
    return { ...rest, key: `kagi_${prefix}_${secret}` };
  }

  list(p: Principal, q: PageQuery): Promise<Page<ApiKeyView>> {
    const operatorId = firmOf(p);
    if (!operatorId) throw new AppError('FORBIDDEN');
    return this.repo.apiKeysPage(operatorId, q, view);
  }

  onRevocation(listener: ApiKeyRevocationListener): void {
    this.revocationListeners.push(listener);
  }

  async revoke(p: Principal, id: string, requestId?: string): Promise<void> {
    const operatorId = firmOf(p);
    if (!operatorId) throw new AppError('FORBIDDEN');
    const existing = await this.repo.apiKeyById(operatorId, id);
    if (!existing) throw new NotFoundError('API key');
    await this.repo.transaction(async (em) => {
      await this.repo.revokeApiKey(em, operatorId, id);
      for (const l of this.revocationListeners) await l(em, operatorId, id);
      await this.audit.record(
        { actor: actorOf(p), operatorId, action: 'api-key.revoke', subject: { type: 'api-key', id }, outcome: 'success', requestId },
        em,
      );
    });
    this.touched.delete(id);
  }

  /** The `api-key` strategy's check; undefined = 401 UNAUTHENTICATED. */
  async authenticate(key: string, clientIp: string): Promise<Principal | undefined> {
    const m = KEY_FORMAT.exec(key);
    if (!m?.[1] || !m[2]) return undefined;
    const row = await this.repo.apiKeyByPrefix(m[1]);
    const presented = sha256(m[2]);
    if (!row || row.secret_hash.length !== presented.length || !timingSafeEqual(row.secret_hash, presented)) return undefined;
    if (row.revoked_at || (row.expires_at && new Date(row.expires_at).getTime() <= Date.now())) return undefined;
    const [firm, owner] = await Promise.all([this.firms.firmStatus(row.operator_id), this.firms.staffState(row.owner_staff_id)]);
    if (firm !== 'active' || owner?.status !== 'active') throw new AppError('ACCOUNT_SUSPENDED', 'The firm or the key owner is suspended');
    await this.limiter.hit(`api-key:${row.id}`, this.config.auth.rateLimitPerMinute);
    const now = Date.now();
    if ((this.touched.get(row.id) ?? 0) + TOUCH_EVERY_MS < now) {
      this.touched.set(row.id, now);
      await this.repo.touchApiKey(row.id);
    }
    return {
      type: 'operator',
      id: row.id,
      loginId: row.name,
      operatorId: row.operator_id,
      roles: row.roles.filter((r) => r === 'maker' || r === 'viewer'),
      via: 'api-key',
      apiKeyId: row.id,
      ownerStaffId: row.owner_staff_id,
      clientIp,
      mfaEnabled: false,
      mustChangePassword: false,
    };
  }
}
