/**
 * Who is calling. Set on the request by the authentication guard (passport `jwt` or
 * `api-key` strategy, src/auth/guards.ts); read by controllers with @CurrentPrincipal().
 * Every route is either @Public() or carries @Roles(...): the roles guard refuses a route
 * that has neither (fail closed). Firm roles are read from the database on every request.
 */
import { applyDecorators, createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';

export type PrincipalType = 'admin' | 'operator';

export const FIRM_ROLES = ['firm-admin', 'maker', 'checker', 'viewer'] as const;
export type FirmRole = (typeof FIRM_ROLES)[number];
/** What an API key may hold: never checker or firm-admin. */
export const API_KEY_ROLES = ['maker', 'viewer'] as const;

export interface Principal {
  type: PrincipalType;
  /** Admin or staff id; for an API key, the key's id. */
  id: string;
  loginId: string;
  /** The firm, for staff and API keys. The firm's first staff member has id === operatorId (the v1 principal id). */
  operatorId?: string;
  roles?: FirmRole[];
  via?: 'jwt' | 'api-key';
  /** API keys only. */
  apiKeyId?: string;
  /** API keys only: the staff member whose requests the key's count as (SELF_APPROVAL). */
  ownerStaffId?: string;
  mfaEnabled?: boolean;
  mustChangePassword?: boolean;
  /** The token's id (jti), for audit. */
  tokenId?: string;
  /** The client address, for audit of API-key requests. */
  clientIp?: string;
}

export const ROLES_KEY = 'kagi:roles';
export const FIRM_ROLES_KEY = 'kagi:firm-roles';
export const Roles = (...roles: PrincipalType[]) => SetMetadata(ROLES_KEY, roles);

/**
 * Firm roles a staff member or API key must hold (one of them) to call the route; admins are
 * governed by @Roles only. Without @FirmRoles, reads (GET) and /v1/auth/* need some role, and
 * any other write needs `maker` (the contract's default: users, tokens and operations).
 * `@FirmRoles('any')` lets any role through (e.g. marking a notification read).
 */
export const FirmRoles = (...roles: Array<FirmRole | 'any'>) => SetMetadata(FIRM_ROLES_KEY, roles);

/** Staff of a firm with one of `roles`, or a platform admin where `admin` is true. */
export const StaffRoute = (roles: FirmRole[], opts: { admin?: boolean } = {}) =>
  applyDecorators(Roles(...(opts.admin ? (['admin', 'operator'] as const) : (['operator'] as const))), FirmRoles(...roles));

export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const req = ctx.switchToHttp().getRequest<{ user?: Principal }>();
  if (!req.user) throw new Error('CurrentPrincipal used on a route without authentication');
  return req.user;
});

/** The request id (X-Request-Id) for audit records. */
export const RequestId = createParamDecorator((_data: unknown, ctx: ExecutionContext): string | undefined => {
  const req = ctx.switchToHttp().getRequest<{ id?: unknown }>();
  return typeof req.id === 'string' ? req.id : undefined;
});

export type ActorType = 'admin' | 'staff' | 'api-key';

/** The audit actor of a principal; an API key's carries its owner and the client address (audited, not hashed into `actor`). */
export function actorOf(p: Principal): { type: ActorType; id: string; owner?: string; clientIp?: string } {
  if (p.type === 'admin') return { type: 'admin', id: p.id };
  if (p.via !== 'api-key') return { type: 'staff', id: p.id };
  return {
    type: 'api-key',
    id: p.id,
    ...(p.ownerStaffId ? { owner: p.ownerStaffId } : {}),
    ...(p.clientIp ? { clientIp: p.clientIp } : {}),
  };
}

/**
 * Tenancy in one place: the firm a principal acts for — a staff member's or API key's firm (a
 * firm's first member keeps the v1 id, equal to the firm's) — or null for platform admins, who
 * see every firm. A foreign id answers exactly as an unknown one (404).
 */
export function firmOf(p: Pick<Principal, 'type' | 'id' | 'operatorId'>): string | null {
  return p.type === 'operator' ? (p.operatorId ?? p.id) : null;
}

/** The firm a principal acts for, on routes only firms call (an admin here is a programming error). */
export function requireFirm(p: Pick<Principal, 'type' | 'id' | 'operatorId'>): string {
  const firm = firmOf(p);
  if (!firm) throw new Error('a firm principal is required here');
  return firm;
}
