/**
 * Optional, bounded cache of unwrapped data keys (KMS_DATA_KEY_CACHE_MAX_AGE_MS /
 * KMS_DATA_KEY_CACHE_MAX_USES; off by default). Turning it on trades KMS calls for
 * exposure time: a data key then stays in memory for up to max-age or max-uses
 * openings instead of one. Entries are zeroed on eviction and on shutdown; callers get
 * a copy that they zero themselves.
 */
import { createHash } from 'node:crypto';
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { encodeContext, type EncryptionContext } from './encryption-context';

interface Entry {
  key: Buffer;
  expiresAt: number;
  usesLeft: number;
}

const MAX_ENTRIES = 1024;

@Injectable()
export class DataKeyCache implements OnModuleDestroy {
  private readonly entries = new Map<string, Entry>();
  readonly maxAgeMs: number;
  readonly maxUses: number;

  constructor(config: AppConfig) {
    this.maxAgeMs = config.kms.cacheMaxAgeMs;
    this.maxUses = config.kms.cacheMaxUses;
  }

  get enabled(): boolean {
    return this.maxAgeMs > 0 && this.maxUses > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** A copy of the cached data key (caller zeroes it), or undefined. */
  take(wrapped: Uint8Array, ctx: EncryptionContext): Buffer | undefined {
    if (!this.enabled) return undefined;
    const id = this.id(wrapped, ctx);
    const e = this.entries.get(id);
    if (!e) return undefined;
    if (e.expiresAt <= Date.now() || e.usesLeft <= 0) {
      this.evict(id, e);
      return undefined;
    }
    e.usesLeft -= 1;
    const copy = Buffer.from(e.key);
    if (e.usesLeft <= 0) this.evict(id, e);
    return copy;
  }

  /** Keeps a copy of `key` (the caller still zeroes its own). */
  put(wrapped: Uint8Array, ctx: EncryptionContext, key: Buffer): void {
    if (!this.enabled) return;
    this.sweep();
    if (this.entries.size >= MAX_ENTRIES) {
      const [oldestId, oldest] = this.entries.entries().next().value as [string, Entry];
      this.evict(oldestId, oldest);
    }
    // The opening that put the key counts as its first use.
    if (this.maxUses <= 1) return;
    this.entries.set(this.id(wrapped, ctx), { key: Buffer.from(key), expiresAt: Date.now() + this.maxAgeMs, usesLeft: this.maxUses - 1 });
  }

  clear(): void {
    for (const [id, e] of this.entries) this.evict(id, e);
  }

  onModuleDestroy(): void {
    this.clear();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, e] of this.entries) if (e.expiresAt <= now) this.evict(id, e);
  }

  private evict(id: string, e: Entry): void {
    e.key.fill(0);
    this.entries.delete(id);
  }

  private id(wrapped: Uint8Array, ctx: EncryptionContext): string {
    return createHash('sha256').update(wrapped).update(encodeContext(ctx)).digest('hex');
  }
}
