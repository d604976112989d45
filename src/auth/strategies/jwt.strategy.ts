/**
 * `jwt`: Bearer access tokens. HS256 pinned (a token naming another algorithm, `none`
 * included, is refused before its claims are read), `jti` and the token version checked
 * against the principal's current state on every request, so a password change or a
 * suspension revokes at once; roles are read fresh each time.
 */
import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy } from 'passport-jwt';
import { AuthService } from '../auth.service';
import type { Principal } from '../../common/principal';
import { claimsOf, Tokens } from '../tokens';

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,4096})$/;

@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    tokens: Tokens,
    private readonly auth: AuthService,
  ) {
    super({
      // Stricter than ExtractJwt.fromAuthHeaderAsBearerToken (which takes any case and the first of several values):
      // exactly `Bearer <one token of JWT characters>`.
      jwtFromRequest: (req: Request) => {
        const header = req.headers.authorization;
        return (typeof header === 'string' && BEARER.exec(header)?.[1]) || null;
      },
      // jsonwebtoken takes a KeyObject (parsed once; a string is re-parsed as PEM on every verify).
      secretOrKey: tokens.verificationKey as unknown as string,
      algorithms: ['HS256'],
      ignoreExpiration: false,
    });
  }

  async validate(payload: Record<string, unknown>): Promise<Principal | undefined> {
    const claims = claimsOf(payload);
    return claims ? this.auth.principalFromClaims(claims) : undefined;
  }
}
