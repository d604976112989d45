/**
 * The SQL of the `jobs` and `job_schedules` tables (owned by src/jobs). Every write that
 * finishes a claimed job is fenced by (locked_by, attempts), so a worker that lost its
 * lease (paused, partitioned) can never finish a job another worker has re-claimed.
 */
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { EnqueueInput, JobState, JobView } from './job-types';

/** Two-int advisory lock namespace of serial keys ("jobs"); never overlaps the one-bigint locks. */
const KEY_LOCK_SPACE = 0x6a6f6273;

export interface ClaimedRow {
  id: string;
  type: string;
  key: string | null;
  payload: Record<string, unknown>;
  attempts: number;
  max_attempts: number;
}

export interface Fence {
  id: string;
  worker: string;
  attempt: number;
}

interface JobRow {
  id: string;
  type: string;
  key: string | null;
  state: JobState;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  run_at: Date;
  created_at: Date;
  finished_at: Date | null;
  payload: Record<string, unknown>;
}

@Injectable()
export class JobsRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Inserts in input order; returns each job's id, or null where a singleton key was
   * already open. Serial keys are locked (transaction-scoped) first, so concurrent
   * enqueuers of one key commit their jobs in id order: a later id never becomes
   * visible before an earlier one of the same key.
   */
  async insert(em: EntityManager, items: ReadonlyArray<EnqueueInput & { maxAttempts: number }>): Promise<Array<string | null>> {
    const keys = [...new Set(items.map((i) => i.key).filter((k): k is string => !!k))];
    if (keys.length)
      await em.query(
        `SELECT pg_advisory_xact_lock(${KEY_LOCK_SPACE}, h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($1::text[]) k ORDER BY 1) s`,
        [keys],
      );
    const rows = items.map((i) => ({
      type: i.type,
      key: i.key ?? null,
      singleton_key: i.singletonKey ?? null,
      payload: i.payload ?? {},
      run_at: i.runAt?.toISOString() ?? null,
      max_attempts: i.maxAttempts,
    }));
    const inserted = await em.query<Array<{ id: string; singleton_key: string | null }>>(
      `INSERT INTO jobs (type, key, singleton_key, payload, run_at, max_attempts)
       SELECT e.j->>'type', e.j->>'key', e.j->>'singleton_key', e.j->'payload',
              coalesce((e.j->>'run_at')::timestamptz, now()), (e.j->>'max_attempts')::int
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(j, ord)
        ORDER BY e.ord
       ON CONFLICT (singleton_key) WHERE singleton_key IS NOT NULL AND state IN ('pending', 'running') DO NOTHING
       RETURNING id::text AS id, singleton_key`,
      [JSON.stringify(rows)],
    );
    // RETURNING follows insertion order; a skipped singleton has no row.
    let next = 0;
    return items.map((i) => {
      const row = inserted[next];
      if (!i.singletonKey || (row && row.singleton_key === i.singletonKey)) {
        next++;
        return row?.id ?? null;
      }
      return null;
    });
  }

  /**
   * Claims up to `limit` due jobs of `types`. A keyed job is due only when no earlier
   * job of its key is unfinished (pending, running or failed), which keeps each key in
   * enqueue order through retries and crashes.
   */
  async claim(types: string[], limit: number, worker: string, leaseSecs: Record<string, number>): Promise<ClaimedRow[]> {
    if (!types.length || limit <= 0) return [];
    // TypeORM answers an UPDATE with [rows, count].
    const [rows] = await this.ds.query<[ClaimedRow[], number]>(
      `WITH picked AS (
         SELECT j.id FROM jobs j
          WHERE j.state = 'pending' AND j.run_at <= now() AND j.type = ANY($1::text[])
            AND (j.key IS NULL OR NOT EXISTS (
                 SELECT 1 FROM jobs h WHERE h.key = j.key AND h.id < j.id AND h.state <> 'done'))
          ORDER BY j.run_at, j.id
          LIMIT $2
          FOR UPDATE SKIP LOCKED)
       UPDATE jobs j
          SET state = 'running', attempts = j.attempts + 1, locked_by = $3, updated_at = now(),
              locked_until = now() + make_interval(secs => coalesce(($4::jsonb->>j.type)::float8, 30))
         FROM picked WHERE j.id = picked.id
       RETURNING j.id::text AS id, j.type, j.key, j.payload, j.attempts, j.max_attempts`,
      [types, limit, worker, JSON.stringify(leaseSecs)],
    );
    return rows;
  }

  /** Extends a lease; false when the job is no longer ours. */
  async heartbeat(f: Fence, leaseSecs: number): Promise<boolean> {
    const [, n] = await this.ds.query<[unknown, number]>(
      `UPDATE jobs SET locked_until = now() + make_interval(secs => $4), updated_at = now()
        WHERE id = $1 AND state = 'running' AND locked_by = $2 AND attempts = $3`,
      [f.id, f.worker, f.attempt, leaseSecs],
    );
    return n === 1;
  }

  /** Marks done; false when the job is no longer ours (or already done through completeWith). */
  async complete(f: Fence, em: EntityManager = this.ds.manager): Promise<boolean> {
    const [, n] = await em.query<[unknown, number]>(
      `UPDATE jobs SET state = 'done', finished_at = now(), updated_at = now(), locked_by = NULL, locked_until = NULL
        WHERE id = $1 AND state = 'running' AND locked_by = $2 AND attempts = $3`,
      [f.id, f.worker, f.attempt],
    );
    return n === 1;
  }

  /** Records a failed run: retried after `retryInMs`, or `failed` for good when attempts are spent. */
  async fail(f: Fence, error: string, retryInMs: number): Promise<JobState | undefined> {
    const rows = await this.ds.query<[Array<{ state: JobState }>, number]>(
      `UPDATE jobs SET last_error = $4, updated_at = now(), locked_by = NULL, locked_until = NULL,
              state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
              finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
              run_at = CASE WHEN attempts >= max_attempts THEN run_at ELSE now() + make_interval(secs => $5) END
        WHERE id = $1 AND state = 'running' AND locked_by = $2 AND attempts = $3
        RETURNING state`,
      [f.id, f.worker, f.attempt, error, retryInMs / 1000],
    );
    return rows[0]?.[0]?.state;
  }

  /** Jobs whose worker stopped renewing the lease (died) go back to pending, or fail when out of attempts. */
  async reapExpired(): Promise<number> {
    const [, n] = await this.ds.query<[unknown, number]>(
      `UPDATE jobs SET updated_at = now(), locked_by = NULL, locked_until = NULL,
              last_error = 'lease expired: the worker stopped (crash or kill) while running it',
              state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
              finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
              run_at = now()
        WHERE state = 'running' AND locked_until < now()`,
    );
    return n;
  }

  async get(id: string): Promise<JobView | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined;
    const [r] = await this.ds.query<JobRow[]>(
      `SELECT id::text AS id, type, key, state, attempts, max_attempts, last_error, run_at, created_at, finished_at, payload
         FROM jobs WHERE id = $1`,
      [id],
    );
    return r && toView(r);
  }

  /** A failed job gets a fresh set of attempts (and its key resumes behind it). */
  async retry(id: string): Promise<boolean> {
    const [, n] = await this.ds.query<[unknown, number]>(
      `UPDATE jobs SET state = 'pending', attempts = 0, run_at = now(), finished_at = NULL, updated_at = now()
        WHERE id = $1 AND state = 'failed'`,
      [id],
    );
    return n === 1;
  }

  async upsertSchedule(name: string, type: string, spec: string, firstRun: Date): Promise<void> {
    await this.ds.query(
      `INSERT INTO job_schedules (name, type, spec, next_run_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET type = excluded.type, spec = excluded.spec, updated_at = now(),
         next_run_at = CASE WHEN job_schedules.spec = excluded.spec THEN job_schedules.next_run_at ELSE excluded.next_run_at END`,
      [name, type, spec, firstRun.toISOString()],
    );
  }

  /**
   * Enqueues each due slot once across instances: the due schedule rows are locked
   * (SKIP LOCKED) and moved to their next slot in the transaction that enqueues the run.
   */
  async fireDueSchedules(
    names: string[],
    enqueue: (em: EntityManager, s: { name: string; type: string }) => Promise<string | null>,
    next: (spec: string, now: Date) => Date,
  ): Promise<number> {
    if (!names.length) return 0;
    return this.ds.transaction(async (em) => {
      const due = await em.query<Array<{ name: string; type: string; spec: string; now: Date }>>(
        `SELECT name, type, spec, now() AS now FROM job_schedules
          WHERE name = ANY($1::text[]) AND next_run_at <= now() FOR UPDATE SKIP LOCKED`,
        [names],
      );
      for (const s of due) {
        const id = await enqueue(em, s);
        await em.query(
          `UPDATE job_schedules SET next_run_at = $2, last_job_id = coalesce($3, last_job_id), updated_at = now() WHERE name = $1`,
          [s.name, next(s.spec, new Date(s.now)).toISOString(), id],
        );
      }
      return due.length;
    });
  }

  /** The latest run a schedule enqueued (what readiness reads instead of doing the work). */
  async lastScheduledRun(name: string): Promise<JobView | undefined> {
    const [r] = await this.ds.query<Array<{ id: string | null }>>(`SELECT last_job_id::text AS id FROM job_schedules WHERE name = $1`, [
      name,
    ]);
    return r?.id ? this.get(r.id) : undefined;
  }

  async pruneDone(olderThanSecs: number): Promise<number> {
    let total = 0;
    for (;;) {
      const [, n] = await this.ds.query<[unknown, number]>(
        `DELETE FROM jobs WHERE id IN (
           SELECT id FROM jobs WHERE state = 'done' AND finished_at < now() - make_interval(secs => $1) LIMIT 5000)`,
        [olderThanSecs],
      );
      total += n;
      if (n < 5000) return total;
    }
  }
}

function toView(r: JobRow): JobView {
  return {
    id: r.id,
    type: r.type,
    key: r.key,
    state: r.state,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    lastError: r.last_error,
    runAt: new Date(r.run_at),
    createdAt: new Date(r.created_at),
    finishedAt: r.finished_at ? new Date(r.finished_at) : null,
    payload: r.payload,
  };
}
