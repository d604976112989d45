/**
 * argon2id password hashing (@node-rs/argon2). Parameters come from configuration
 * (production default m=19 MiB, t=2, p=1, the OWASP baseline); a dummy hash makes an
 * unknown loginId cost the same as a wrong password. Every hash and check runs under a
 * semaphore (ARGON2_MAX_CONCURRENT): public routes (login, activation, applications) cannot
 * make the process allocate more than that many argon2 memory blocks; beyond a short wait
 * the request is refused with 429 RATE_LIMITED.
 */
import { Injectable } from '@nestjs/common';
import { hash, verify } from '@node-rs/argon2';

/** Algorithm.Argon2id (a const enum, which isolatedModules cannot import). */
const ARGON2ID = 2;
import { AppError } from '../common/app-error';
import { Semaphore } from '../common/semaphore';
import { AppConfig } from '../config/app-config';

/** How long a request waits for an argon2 permit before 429. */
const ARGON2_WAIT_MS = 2000;

const MIN_PASSWORD_LENGTH = 12;

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
  private readonly permits: Semaphore;

  constructor(private readonly config: AppConfig) {
    this.permits = new Semaphore(config.auth.argon2.maxConcurrent);
  }

  hash(password: string): Promise<string> {
    return this.limited(() => this.rawHash(password));
  }

  async verify(passwordHash: string | undefined, password: string): Promise<boolean> {
    if (!passwordHash) {
      // Unknown login id: spend the same time as a real check, then fail.
      this.dummy ??= this.rawHash('kagi-dummy-password-for-timing');
      const dummy = await this.dummy;
      await this.limited(() => verify(dummy, password).catch(() => false));
      return false;
    }
    return this.limited(() => verify(passwordHash, password).catch(() => false));
  }

  private rawHash(password: string): Promise<string> {
    return hash(password, {
      algorithm: ARGON2ID,
      memoryCost: this.config.auth.argon2.memoryCost,
      timeCost: this.config.auth.argon2.timeCost,
      parallelism: 1,
    });
  }

  private limited<T>(work: () => Promise<T>): Promise<T> {
    return this.permits.tryRun(
      work,
      ARGON2_WAIT_MS,
      () => new AppError('RATE_LIMITED', 'Too many password checks at once; retry shortly', { headers: { 'Retry-After': '1' } }),
    );
  }
}
