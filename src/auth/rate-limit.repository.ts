/** The owner of `rate_limit_buckets`: fixed windows per client key, shared across instances. */
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** Adds counts to their keys' windows; a newer window replaces an older one. Returns each key's shared count. */
const UPSERT = `INSERT INTO rate_limit_buckets AS b (key, window_start, count)
  SELECT * FROM unnest($1::varchar[], $2::timestamptz[], $3::int[])
  ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN b.window_start < EXCLUDED.window_start THEN EXCLUDED.count
                 WHEN b.window_start = EXCLUDED.window_start THEN b.count + EXCLUDED.count
                 ELSE b.count END,
    window_start = GREATEST(b.window_start, EXCLUDED.window_start)
  RETURNING key, count, window_start`;

@Injectable()
export class RateLimitRepository {
  constructor(private readonly ds: DataSource) {}

  /** Adds `n` to each key's window starting at `window` (ms); answers the shared counts of the keys still in that window. */
  async add(counts: ReadonlyArray<{ key: string; window: number; n: number }>): Promise<Map<string, number>> {
    const rows = await this.ds.query<Array<{ key: string; count: number; window_start: Date }>>(UPSERT, [
      counts.map((c) => c.key),
      counts.map((c) => new Date(c.window)),
      counts.map((c) => c.n),
    ]);
    const windows = new Map(counts.map((c) => [c.key, c.window]));
    const out = new Map<string, number>();
    for (const r of rows) if (new Date(r.window_start).getTime() === windows.get(r.key)) out.set(r.key, r.count);
    return out;
  }
}
