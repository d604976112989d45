/**
 * Global guards, in order: per-client rate limit, authentication (passport: `jwt` for
 * `Authorization: Bearer`, `api-key` for `X-API-Key`, exactly one of them), roles. A route
 * that is neither @Public() nor carries @Roles(...) is refused: fail closed. Firm roles,
 * must-change-password and MFA_REQUIRED_FOR are checked from the principal's state as read
 * on this request.
 */
import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import passport from 'passport';
import { isDatabaseUnavailable } from '../common/database-unavailable';
import { AppError } from '../common/app-error';
import { IS_PUBLIC } from '../common/public.decorator';
import { createValidationPipe } from '../common/validation';
import { AppConfig } from '../config/app-config';
import { LoginDto } from './dto/auth.dto';
import { FIRM_ROLES_KEY, ROLES_KEY, type FirmRole, type Principal, type PrincipalType } from '../common/principal';
import { RateLimiter } from './rate-limiter';
import { ApiKeyStrategy } from './strategies/api-key.strategy';
import { JwtStrategy } from './strategies/jwt.strategy';
import { LocalStrategy } from './strategies/local.strategy';
import { TotpService } from './totp.service';

/**
 * Runs one passport strategy of this application on a request. @nestjs/passport's
 * AuthGuard looks strategies up by name in passport's process-wide registry, where the
 * last application built wins: with two instances in one process (tests, the CLI next to
 * the API) a closed instance's strategy would answer for the live one. The strategy
 * instance is therefore passed directly, as a fresh prototype-derived object per request
 * (passport binds success/fail/error onto the object it is given).
 */
function runStrategy<T>(strategy: object, ctx: ExecutionContext, onNoUser: () => AppError): Promise<T> {
  const http = ctx.switchToHttp();
  const req = http.getRequest<Request>();
  return new Promise<T>((resolve, reject) => {
    const authenticate = passport.authenticate(
      Object.create(strategy) as passport.Strategy,
      { session: false },
      (err: unknown, user: T | false) => {
        // Our own errors (403 ACCOUNT_SUSPENDED, 429, 503) and a database outage (503 DATABASE_UNAVAILABLE:
        // the token may be fine) pass through; anything else from passport is 401.
        if (err instanceof AppError || (err instanceof Error && isDatabaseUnavailable(err))) return reject(err);
        if (err || !user) return reject(onNoUser());
        resolve(user);
      },
    ) as (req: Request, res: unknown, next: (err?: unknown) => void) => void;
    authenticate(req, http.getResponse(), (err) =>
      reject(err instanceof AppError || (err instanceof Error && isDatabaseUnavailable(err)) ? err : onNoUser()),
    );
  });
}

@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(private readonly strategy: JwtStrategy) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const user = await runStrategy<Principal>(
      this.strategy,
      ctx,
      () => new AppError('UNAUTHENTICATED', 'A valid access token is required'),
    );
    ctx.switchToHttp().getRequest<Request & { user?: Principal }>().user = user;
    return true;
  }
}

@Injectable()
export class ApiKeyAuthGuard implements CanActivate {
  constructor(private readonly strategy: ApiKeyStrategy) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const user = await runStrategy<Principal>(this.strategy, ctx, () => new AppError('UNAUTHENTICATED', 'A valid API key is required'));
    ctx.switchToHttp().getRequest<Request & { user?: Principal }>().user = user;
    return true;
  }
}

/** Login: refuses an Idempotency-Key, validates the body, counts the client's logins, then runs `local`. */
@Injectable()
export class LocalAuthGuard implements CanActivate {
  private readonly pipe = createValidationPipe();

  constructor(
    private readonly strategy: LocalStrategy,
    private readonly limiter: RateLimiter,
    private readonly config: AppConfig,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<Request & { user?: Principal }>();
    refuseIdempotencyKey(req, 'login');
    req.body = (await this.pipe.transform(req.body, { type: 'body', metatype: LoginDto })) as LoginDto;
    await this.limiter.hit(`login-ip:${req.ip ?? 'unknown'}`, this.config.auth.loginRateLimitPerMinute, { exact: true });
    req.user = await runStrategy<Principal>(
      this.strategy,
      ctx,
      () => new AppError('INVALID_CREDENTIALS', 'The login id or the password is wrong'),
    );
    return true;
  }
}

/** Routes that answer a secret take no Idempotency-Key: a replay would have to store the secret. */
export function refuseIdempotencyKey(req: Request, what: string): void {
  if (req.headers['idempotency-key'] !== undefined)
    throw new AppError('VALIDATION_FAILED', 'This route does not take an Idempotency-Key', {
      errors: [{ field: 'Idempotency-Key', message: `${what} does not take an Idempotency-Key header` }],
    });
}

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

/** Exactly one credential: a bearer token (`jwt`) or an API key (`api-key`); both → 401. */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly jwt: JwtAuthGuard,
    private readonly apiKey: ApiKeyAuthGuard,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [ctx.getHandler(), ctx.getClass()])) return true;
    const req = ctx.switchToHttp().getRequest<Request>();
    const hasKey = req.headers['x-api-key'] !== undefined;
    if (hasKey && req.headers.authorization !== undefined)
      throw new AppError('UNAUTHENTICATED', 'Send either an Authorization header or an X-API-Key header, not both');
    return await (hasKey ? this.apiKey : this.jwt).canActivate(ctx);
  }
}

/** Paths a principal that must change its password may still call. */
const PASSWORD_CHANGE_PATHS = new Set(['/v1/auth/me', '/v1/auth/password']);

@Injectable()
export class RolesGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly totp: TotpService,
  ) {}

  canActivate(ctx: ExecutionContext): boolean {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const kinds = this.reflector.getAllAndOverride<PrincipalType[] | undefined>(ROLES_KEY, targets);
    const req = ctx.switchToHttp().getRequest<Request & { user?: Principal }>();
    const user = req.user;
    if (!kinds?.length || !user || !kinds.includes(user.type)) throw new AppError('FORBIDDEN', 'This principal may not call this route');
    const path = req.path.replace(/\/+$/, '');
    if (user.mustChangePassword && !PASSWORD_CHANGE_PATHS.has(path))
      throw new AppError('PASSWORD_CHANGE_REQUIRED', 'Change the password first (POST /v1/auth/password)');
    const read = req.method === 'GET' || req.method === 'HEAD';
    const selfService = path.startsWith('/v1/auth/');
    if (user.type === 'operator') {
      const wanted = this.reflector.getAllAndOverride<Array<FirmRole | 'any'> | undefined>(FIRM_ROLES_KEY, targets);
      const held = user.roles ?? [];
      const needed: Array<FirmRole | 'any'> = wanted ?? (read || selfService ? ['any'] : ['maker']);
      const ok = needed.includes('any') ? held.length > 0 : held.some((r) => needed.includes(r));
      if (!ok) throw new AppError('FORBIDDEN', 'This staff member or API key lacks the role this route needs');
    }
    if (!read && !selfService && !user.mfaEnabled && this.totp.mfaRequired(user))
      throw new AppError('MFA_NOT_ENABLED', 'Enrol TOTP first (POST /v1/auth/mfa/totp): MFA is required for this principal');
    return true;
  }
}
