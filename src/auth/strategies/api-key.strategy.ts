/**
 * `api-key`: a firm's back-office systems send `X-API-Key: kagi_<prefix>_<secret>`.
 * A strategy of our own (passport-headerapikey adds nothing but a header read and has not
 * been released since 2020): the key's prefix finds the row, the SHA-256 of the secret is
 * compared in constant time, a revoked or expired key is 401, a suspended firm or owner 403.
 */
import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { Strategy as BaseStrategy } from 'passport-strategy';
import { ApiKeysService } from '../api-keys.service';
import type { Principal } from '../../common/principal';

type Verify = (key: string, req: Request, done: (err: unknown, user?: Principal | false) => void) => void;

class HeaderApiKeyStrategy extends BaseStrategy {
  constructor(private readonly verify: Verify) {
    super();
  }

  override authenticate(req: Request): void {
    const key = req.headers['x-api-key'];
    if (typeof key !== 'string' || !key) return this.fail(401);
    this.verify(key, req, (err, user) => {
      if (err) return this.error(err instanceof Error ? err : new Error('API key check failed'));
      if (!user) return this.fail(401);
      this.success(user);
    });
  }
}

@Injectable()
export class ApiKeyStrategy extends PassportStrategy(HeaderApiKeyStrategy, 'api-key') {
  constructor(private readonly keys: ApiKeysService) {
    super();
  }

  validate(key: string, req: Request): Promise<Principal | undefined> {
    return this.keys.authenticate(key, req.ip ?? 'unknown');
  }
}
