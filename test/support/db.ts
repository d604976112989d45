/**
 * Direct SQL for what no API exposes: a database of a file's own, and "did this request
 * write anything?". Tests still drive kagi only over HTTP; these helpers only look.
 */
import { Client } from 'pg';
import { inject } from 'vitest';

function withDb(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

function mainDatabaseName(): string {
  return new URL(inject('databaseUrl')).pathname.slice(1);
}

/**
 * A fresh, empty database on the run's server for files that must see every write as
 * their own (no background work left over by earlier files). Named `<run db>_x_<label>_…`
 * so that the global teardown drops it and the secret sweep dumps it.
 */
export async function freshDatabase(label: string): Promise<string> {
  const name = `${mainDatabaseName()}_x_${label.replace(/[^a-z0-9]/g, '')}_${Math.floor(Math.random() * 1e9)}`;
  const c = new Client({ connectionString: inject('databaseUrl') });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE "${name}"`);
  } finally {
    await c.end();
  }
  return withDb(inject('databaseUrl'), name);
}

/** The URLs of every database of this run: the shared one and every freshDatabase(). */
/** Drops a database made by freshDatabase (its connections are ended first). */
export async function dropDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const c = new Client({ connectionString: inject('databaseUrl') });
  await c.connect();
  try {
    await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    await c.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '')}"`);
  } finally {
    await c.end();
  }
}

export async function runDatabaseUrls(): Promise<string[]> {
  const main = mainDatabaseName();
  const c = new Client({ connectionString: inject('databaseUrl') });
  await c.connect();
  try {
    const r = await c.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2) ORDER BY datname',
      [main, `${main}_x_`],
    );
    return r.rows.map((row) => withDb(inject('databaseUrl'), row.datname));
  } finally {
    await c.end();
  }
}

/**
 * Tables a refused request may legitimately write, each because recording refusals is its
 * purpose: `login_failures` (the lockout counts failed logins), `rate_limit_buckets`
 * (every request counts, refused or not), and `audit_events`, which is append-only and
 * records denials; for it the check is narrower: a refused request may only add events
 * whose outcome is `failure` or `denied`, never a `success`.
 */
/**
 * Written by refusals themselves (failures, rate limits, their audit events) or by background
 * workers on their own schedule, not by the request: the audit chainer (audit_chain, from
 * audit_events), the anchorer (audit_anchors), scheduled jobs (custody reconciliation,
 * pruning: jobs, job_schedules) and webhook delivery (webhook_*). A request's own effects still show in the other tables and in
 * the success events of audit_events, which the checks read separately.
 */
const REFUSAL_BOOKKEEPING = [
  'login_failures',
  'rate_limit_buckets',
  'audit_events',
  'audit_chain',
  'audit_anchors',
  'jobs',
  'job_schedules',
  // The webhook sequencer and dispatcher (sequences, leases, attempts) run on their own schedule;
  // creating or changing an endpoint is a request's effect, and is audited as a success.
  'webhook_events',
  'webhook_deliveries',
  'webhook_endpoints',
] as const;

/**
 * Columns stamped by authentication itself, refused request or not: an API key's
 * `last_used_at` records that the key was presented (its other columns are still watched).
 */
const BOOKKEEPING_COLUMNS: Record<string, string> = { 'public.api_keys': 'last_used_at' };

export interface Snapshot {
  /** table → "count:md5 of all rows" */
  tables: Map<string, string>;
  /** Database time of the snapshot (audit events at or after it are new). */
  at: string;
}

/**
 * Fingerprints every table (row count and a hash over every row's text form, so an
 * insert, update or delete anywhere shows). Direct SQL: no API exposes row counts.
 */
export class WriteWatcher {
  private constructor(
    private readonly client: Client,
    private readonly query: string,
  ) {}

  static async open(url: string): Promise<WriteWatcher> {
    const client = new Client({ connectionString: url });
    await client.connect();
    const tables = await client.query<{ t: string }>(
      `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS t FROM pg_tables
        WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND NOT (tablename = ANY($1)) ORDER BY 1`,
      [[...REFUSAL_BOOKKEEPING]],
    );
    const row = (t: string) => {
      const skip = BOOKKEEPING_COLUMNS[t];
      return skip ? `(to_jsonb(x) - ${client.escapeLiteral(skip)})::text` : 'x::text';
    };
    const parts = tables.rows.map(
      ({ t }) =>
        `SELECT ${client.escapeLiteral(t)} AS t, count(*) || ':' || md5(coalesce(string_agg(md5(${row(t)}), '' ORDER BY md5(${row(t)})), '')) AS h FROM ${t} x`,
    );
    return new WriteWatcher(client, parts.join(' UNION ALL '));
  }

  private last: Snapshot | undefined;

  async snapshot(): Promise<Snapshot> {
    const [now] = (await this.client.query<{ at: string }>('SELECT clock_timestamp()::text AS at')).rows;
    const r = await this.client.query<{ t: string; h: string }>(this.query);
    this.last = { tables: new Map(r.rows.map((row) => [row.t, row.h])), at: now!.at };
    return this.last;
  }

  /** Tables that differ between two snapshots. */
  static changed(a: Snapshot, b: Snapshot): string[] {
    return [...b.tables.keys()].filter((t) => a.tables.get(t) !== b.tables.get(t));
  }

  /** Whether a transactions row was created or updated by a database transaction that began at or after the snapshot. */
  async transactionsTouchedSince(s: Snapshot): Promise<boolean> {
    const r = await this.client.query<{ n: number }>(`SELECT count(*)::int AS n FROM transactions WHERE updated_at >= $1::timestamptz`, [
      s.at,
    ]);
    return (r.rows[0]?.n ?? 0) > 0;
  }

  /**
   * Whether every transactions row written since the snapshot is the pipeline's work on a row
   * that existed before it: created earlier and now `submitted`, `confirmed` or `failed` (states
   * only the pipeline sets; a request's own write would be a new row, or a cancel, an approval…).
   */
  async onlyPipelineSince(s: Snapshot): Promise<boolean> {
    const r = await this.client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM transactions
        WHERE (updated_at >= $1::timestamptz OR created_at >= $1::timestamptz)
          AND (created_at >= $1::timestamptz OR status NOT IN ('submitted', 'confirmed', 'failed'))`,
      [s.at],
    );
    return (r.rows[0]?.n ?? 1) === 0;
  }

  /** What the pipeline and the job runner changed since a snapshot (the message of a failed write check). */
  async changesSince(s: Snapshot): Promise<string> {
    const tx = await this.client.query(
      `SELECT id, kind, status, updated_at::text AS at FROM transactions WHERE updated_at >= $1::timestamptz ORDER BY updated_at`,
      [s.at],
    );
    const jobs = await this.client.query(
      `SELECT type, state, attempts, updated_at::text AS at FROM jobs WHERE updated_at >= $1::timestamptz ORDER BY updated_at`,
      [s.at],
    );
    return JSON.stringify({ since: s.at, transactions: tx.rows, jobs: jobs.rows });
  }

  /** Audit events recorded since a snapshot whose outcome is not a refusal. */
  async auditSuccessesSince(s: Snapshot, opts: { exceptSystem?: boolean } = {}): Promise<Array<{ action: string; outcome: string }>> {
    const r = await this.client.query<{ action: string; outcome: string }>(
      // The anchorer opens its own key on its own schedule (a background worker, like the chainer).
      `SELECT action, outcome FROM audit_events WHERE at >= $1::timestamptz AND outcome NOT IN ('failure', 'denied')
          AND NOT (action = 'key.open' AND subject_type = 'audit-anchor-key') AND NOT ($2 AND actor_type = 'system') ORDER BY at`,
      [s.at, opts.exceptSystem === true],
    );
    return r.rows;
  }

  /**
   * One-off jobs due within a minute (a lost-wallet freeze or a rotation step backing off, an
   * expiry): they may write pipeline rows. Recurring jobs (those of job_schedules) do not count.
   */
  async jobsDue(): Promise<boolean> {
    const r = await this.client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs
        WHERE state IN ('pending', 'running') AND run_at <= now() + interval '60 seconds'
          AND type NOT IN (SELECT type FROM job_schedules)`,
    );
    return (r.rows[0]?.n ?? 0) > 0;
  }

  /** Work the pipeline, or a key rotation an accepted request started, still has to do (so a snapshot would not be stable yet). */
  async busy(): Promise<boolean> {
    const r = await this.client.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM transactions WHERE status IN ('queued', 'submitted'))::int
            + (SELECT count(*) FROM rotations WHERE status IN ('running', 'waiting_for_gas'))::int AS n`,
    );
    return (r.rows[0]?.n ?? 0) > 0;
  }

  /**
   * Waits until two snapshots 150 ms apart agree and nothing is queued or in flight, or the
   * queue has stayed unchanged for 2 s (a row waiting out a retry backoff, or a suspended
   * requester's row the pipeline leaves alone).
   */
  async quiet(timeoutMs = 30_000): Promise<Snapshot> {
    const deadline = Date.now() + timeoutMs;
    // Nothing changed since the previous snapshot and nothing in flight: quiet already.
    const previous = this.last;
    let last = await this.snapshot();
    if (previous && !WriteWatcher.changed(previous, last).length && !(await this.busy())) return last;
    let stableSince = Date.now();
    for (;;) {
      await new Promise((r) => setTimeout(r, 150));
      const next = await this.snapshot();
      const moved = WriteWatcher.changed(last, next);
      if (moved.length) stableSince = Date.now();
      else if (!(await this.busy()) || Date.now() - stableSince > 2000) return next;
      if (Date.now() > deadline) throw new Error(`database not quiet after ${timeoutMs} ms: ${moved.join(', ')}`);
      last = next;
    }
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}
