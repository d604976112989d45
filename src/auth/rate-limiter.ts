/**
 * Fixed one-minute windows per client key, shared through PostgreSQL so limits hold across
 * restarts and across instances.
 *
 * Logins are counted exactly: one atomic upsert per attempt (they guard against password
 * guessing, and they are rare). Other calls are counted locally and added to the shared row
 * every FLUSH_MS, one upsert per key instead of one per request: a decision uses the shared
 * count as of the last flush plus what this instance counted since. The first call of a key
 * in a window is counted at once (so a restarted instance starts from the shared count), and
 * a client spread over N instances can pass the limit by at most what the other instances
 * counted within one FLUSH_MS. If the database cannot be reached, local counting goes on.
 */
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { AppError } from '../common/app-error';
import { firstLine } from '../common/logging';
import { RateLimitRepository } from './rate-limit.repository';

const WINDOW_MS = 60_000;
const FLUSH_MS = 250;

interface Bucket {
  window: number;
  /** The shared count of this window when last read back. */
  shared: number;
  /** Counted here since then, not yet added to the shared row. */
  local: number;
}

@Injectable()
export class RateLimiter implements OnModuleDestroy {
  private readonly logger = new Logger('RateLimiter');
  private readonly buckets = new Map<string, Bucket>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private lastWarning = 0;

  constructor(private readonly shared: RateLimitRepository) {}

  /** Counts one request for `key`; throws 429 RATE_LIMITED with Retry-After beyond `limit` per minute. */
  async hit(key: string, limit: number, opts: { exact?: boolean } = {}): Promise<void> {
    const k = key.slice(0, 160);
    const now = Date.now();
    const window = now - (now % WINDOW_MS);
    let b = this.buckets.get(k);
    if (!b || b.window !== window) {
      b = { window, shared: 0, local: 0 };
      this.buckets.set(k, b);
      this.sweep(window);
    }
    if (opts.exact || (b.shared === 0 && b.local === 0)) {
      b.local++;
      await this.flush([k]);
    } else {
      if (b.shared + b.local + 1 > limit) this.refuse(window, now);
      b.local++;
      this.timer ??= setTimeout(() => void this.flushAll(), FLUSH_MS).unref();
    }
    if (b.shared + b.local > limit) this.refuse(window, now);
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.flushAll();
  }

  private refuse(window: number, now: number): never {
    const retry = Math.max(1, Math.ceil((window + WINDOW_MS - now) / 1000));
    throw new AppError('RATE_LIMITED', 'Too many requests from this client; retry later', { headers: { 'Retry-After': String(retry) } });
  }

  private async flushAll(): Promise<void> {
    this.timer = undefined;
    await this.flushing;
    this.flushing = this.flush([...this.buckets.keys()]);
    await this.flushing;
    this.flushing = undefined;
  }

  /** Adds the local counts of `keys` to the shared rows and reads the shared counts back. */
  private async flush(keys: string[]): Promise<void> {
    const batch = keys.flatMap((key) => {
      const b = this.buckets.get(key);
      return b && b.local > 0 ? [{ key, b, n: b.local }] : [];
    });
    if (!batch.length) return;
    for (const x of batch) x.b.local -= x.n;
    try {
      const shared = await this.shared.add(batch.map((x) => ({ key: x.key, window: x.b.window, n: x.n })));
      for (const x of batch) {
        const count = shared.get(x.key);
        if (count !== undefined) x.b.shared = count;
      }
    } catch (e) {
      // Not lost: counted locally, added again at the next flush.
      for (const x of batch) x.b.local += x.n;
      if (Date.now() - this.lastWarning > 10_000) {
        this.lastWarning = Date.now();
        this.logger.warn(`rate-limit counts not shared (database unavailable: ${firstLine(e)}); counting locally`);
      }
      this.timer ??= setTimeout(() => void this.flushAll(), FLUSH_MS * 4).unref();
    }
  }

  /** Forgets keys of past windows that have nothing left to share. */
  private sweep(window: number): void {
    if (this.buckets.size < 10_000) return;
    for (const [k, b] of this.buckets) if (b.window !== window && b.local === 0) this.buckets.delete(k);
  }
}
