/**
 * Global guards, in order: per-client rate limit, authentication (bearer JWT), roles.
 * A route that is neither @Public() nor carries @Roles(...) is refused: fail closed.
 */
import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AppError } from '../common/app-error';
import { IS_PUBLIC } from '../common/public.decorator';
import { AppConfig } from '../config/app-config';
import { AuthService } from './auth.service';
import { ROLES_KEY, type Principal, type PrincipalType } from './principal';
import { RateLimiter } from './rate-limiter';

@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly config: AppConfig,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<Request>();
    if (!req.path.startsWith('/v1/')) return true; // health, metrics and docs are not rate limited
    await this.limiter.hit(`ip:${req.ip ?? 'unknown'}`, this.config.auth.rateLimitPerMinute);
    return true;
  }
}

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [ctx.getHandler(), ctx.getClass()])) return true;
    const req = ctx.switchToHttp().getRequest<Request & { user?: Principal }>();
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/.exec(header) : null;
    if (!m?.[1]) throw new AppError('UNAUTHENTICATED', 'A valid access token is required');
    const principal = await this.auth.authenticate(m[1]);
    if (!principal) throw new AppError('UNAUTHENTICATED', 'The access token is invalid, expired or revoked');
    req.user = principal;
    return true;
  }
}

@Injectable()
export class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(ctx: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [ctx.getHandler(), ctx.getClass()])) return true;
    const roles = this.reflector.getAllAndOverride<PrincipalType[] | undefined>(ROLES_KEY, [ctx.getHandler(), ctx.getClass()]);
    const user = ctx.switchToHttp().getRequest<{ user?: Principal }>().user;
    if (!roles?.length || !user || !roles.includes(user.type)) throw new AppError('FORBIDDEN', 'This principal may not call this route');
    return true;
  }
}
