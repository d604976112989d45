/**
 * `local`: loginId + password (+ otp with TOTP on), argon2id with the same cost for an
 * unknown id, lockout counted per loginId. The body was validated by LocalAuthGuard first.
 */
import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy } from 'passport-local';
import { AuthService } from '../auth.service';
import type { Principal } from '../../common/principal';

@Injectable()
export class LocalStrategy extends PassportStrategy(Strategy, 'local') {
  constructor(private readonly auth: AuthService) {
    super({ usernameField: 'loginId', passwordField: 'password', passReqToCallback: true, session: false });
  }

  validate(req: Request & { id?: unknown }, loginId: string, password: string): Promise<Principal> {
    const body = req.body as { otp?: string };
    return this.auth.validateLogin(loginId, password, body.otp, typeof req.id === 'string' ? req.id : undefined);
  }
}
