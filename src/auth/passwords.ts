/**
 * argon2id password hashing (@node-rs/argon2). Parameters come from configuration
 * (production default m=19 MiB, t=2, p=1, the OWASP baseline); a dummy hash makes an
 * unknown loginId cost the same as a wrong password.
 */
import { Injectable } from '@nestjs/common';
import { hash, verify } from '@node-rs/argon2';

/** Algorithm.Argon2id (a const enum, which isolatedModules cannot import). */
const ARGON2ID = 2;
import { AppError } from '../common/app-error';
import { AppConfig } from '../config/app-config';

export const MIN_PASSWORD_LENGTH = 12;

export function checkPasswordRules(password: string, loginId: string): void {
  if ([...password].length < MIN_PASSWORD_LENGTH)
    throw new AppError('WEAK_PASSWORD', `The password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  if (loginId && password.toLowerCase().includes(loginId.toLowerCase()))
    throw new AppError('WEAK_PASSWORD', 'The password must not contain the login id');
  if ([...password].length > 256) throw new AppError('WEAK_PASSWORD', 'The password must have at most 256 characters');
}

@Injectable()
export class Passwords {
  private dummy: Promise<string> | undefined;

  constructor(private readonly config: AppConfig) {}

  hash(password: string): Promise<string> {
    return hash(password, {
      algorithm: ARGON2ID,
      memoryCost: this.config.auth.argon2.memoryCost,
      timeCost: this.config.auth.argon2.timeCost,
      parallelism: 1,
    });
  }

  async verify(passwordHash: string | undefined, password: string): Promise<boolean> {
    if (!passwordHash) {
      // Unknown login id: spend the same time as a real check, then fail.
      this.dummy ??= this.hash('kagi-dummy-password-for-timing');
      await verify(await this.dummy, password).catch(() => false);
      return false;
    }
    return verify(passwordHash, password).catch(() => false);
  }
}
