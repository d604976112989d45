/**
 * Fixed one-minute windows per client key, counted in PostgreSQL with one atomic upsert
 * so limits hold across restarts and across instances.
 */
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppError } from '../common/app-error';

@Injectable()
export class RateLimiter {
  constructor(private readonly ds: DataSource) {}

  /** Counts one request for `key`; throws 429 RATE_LIMITED with Retry-After beyond `limit` per minute. */
  async hit(key: string, limit: number): Promise<void> {
    const rows = await this.ds.query<Array<{ count: number; retry: string }>>(
      `INSERT INTO rate_limit_buckets (key, window_start, count) VALUES ($1, date_trunc('minute', now()), 1)
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN rate_limit_buckets.window_start < date_trunc('minute', now()) THEN 1 ELSE rate_limit_buckets.count + 1 END,
         window_start = date_trunc('minute', now())
       RETURNING count, EXTRACT(EPOCH FROM (date_trunc('minute', now()) + interval '1 minute' - now())) AS retry`,
      [key.slice(0, 160)],
    );
    const row = rows[0];
    if (row && row.count > limit) {
      const retry = Math.max(1, Math.ceil(Number(row.retry)));
      throw new AppError('RATE_LIMITED', 'Too many requests from this client; retry later', { headers: { 'Retry-After': String(retry) } });
    }
  }
}
