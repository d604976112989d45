/**
 * Who is calling. Set on the request by the JWT guard (auth module); read by
 * controllers with @CurrentPrincipal(). Every route is either @Public() or carries
 * @Roles(...): the roles guard refuses a route that has neither (fail closed).
 */
import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';

export type PrincipalType = 'admin' | 'operator';

export interface Principal {
  type: PrincipalType;
  id: string;
  loginId: string;
  /** The token's id (jti), for audit. */
  tokenId?: string;
}

export const ROLES_KEY = 'kagi:roles';
export const Roles = (...roles: PrincipalType[]) => SetMetadata(ROLES_KEY, roles);

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

/** The audit actor of a principal. */
export function actorOf(p: Principal): { type: PrincipalType; id: string } {
  return { type: p.type, id: p.id };
}
