/** The public shapes of src/jobs and its pure rules (backoff, schedules, error lines). */
import { CronExpressionParser } from 'cron-parser';
import type { EntityManager } from 'typeorm';

export type JobState = 'pending' | 'running' | 'done' | 'failed';

export interface EnqueueInput {
  type: string;
  /** Serial key: jobs with the same key run one at a time, in enqueue order; a failing one holds back the rest. */
  key?: string;
  /** At most one pending or running job per singleton key; a second enqueue is skipped (returns null). */
  singletonKey?: string;
  /** JSON; ids and references only, never secrets (it is stored in clear). */
  payload?: Record<string, unknown>;
  runAt?: Date;
  maxAttempts?: number;
}

export interface JobView {
  id: string;
  type: string;
  key: string | null;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  runAt: Date;
  createdAt: Date;
  finishedAt: Date | null;
  payload: Record<string, unknown>;
}

/** What a handler gets: the job, an abort signal (lease lost or shutdown) and the way to finish inside its own transaction. */
export interface RunningJob<P = Record<string, unknown>> {
  id: string;
  type: string;
  key: string | null;
  payload: P;
  /** 1 on the first run. */
  attempt: number;
  maxAttempts: number;
  signal: AbortSignal;
  /**
   * Marks the job done inside `em`'s transaction, so a handler whose effect is a database
   * write commits the write and the completion together (exactly once for that write).
   * Throws (rolling the caller back) when this worker no longer holds the job.
   */
  completeWith(em: EntityManager): Promise<void>;
}

export type JobHandler<P = Record<string, unknown>> = (job: RunningJob<P>) => Promise<void>;

export interface Backoff {
  /** Delay before the 2nd attempt; doubles per attempt. */
  baseMs: number;
  maxMs: number;
}

export type Schedule = { everyMs: number } | { cron: string };

export interface JobTypeOptions {
  /** Default for enqueues of this type that do not say (default 25). */
  maxAttempts?: number;
  backoff?: Backoff;
  /** How long a claim holds without a heartbeat; a dead worker's job is retried after it (default 30 s). */
  leaseMs?: number;
  /** Enqueue this type on a schedule, on exactly one instance per slot (a singleton: no pile-up). */
  schedule?: Schedule;
  /** Payload of scheduled runs. */
  schedulePayload?: Record<string, unknown>;
}

const DEFAULT_BACKOFF: Backoff = { baseMs: 1000, maxMs: 5 * 60_000 };
export const DEFAULT_LEASE_MS = 30_000;
export const DEFAULT_MAX_ATTEMPTS = 25;

/** Delay before the next try after `attempt` failed runs: base·2^(attempt−1), capped, +0–10 % jitter. */
export function backoffMs(attempt: number, b: Backoff = DEFAULT_BACKOFF, random = Math.random): number {
  const raw = Math.min(b.baseMs * 2 ** Math.max(0, attempt - 1), b.maxMs);
  return Math.round(raw * (1 + random() * 0.1));
}

export function scheduleSpec(s: Schedule): string {
  if ('everyMs' in s) {
    if (!Number.isInteger(s.everyMs) || s.everyMs < 100) throw new Error('schedule everyMs must be an integer ≥ 100');
    return `every ${s.everyMs}ms`;
  }
  CronExpressionParser.parse(s.cron, { tz: 'UTC' });
  return `cron ${s.cron}`;
}

/** The next slot of a stored spec strictly after `after` (cron in UTC). */
export function nextRun(spec: string, after: Date): Date {
  const every = /^every (\d+)ms$/.exec(spec);
  if (every) return new Date(after.getTime() + Number(every[1]));
  const cron = /^cron (.+)$/.exec(spec);
  if (!cron?.[1]) throw new Error(`unknown schedule spec: ${spec}`);
  return CronExpressionParser.parse(cron[1], { currentDate: after, tz: 'UTC' }).next().toDate();
}

const REDACTIONS: Array<[RegExp, string]> = [
  // Credentials in URLs (a database or SMTP URL in a connection error).
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1[redacted]@'],
  [/\b(bearer|basic)\s+\S+/gi, '$1 [redacted]'],
  // Long hex or base64 runs: private keys, data keys, signatures, tokens.
  [/\b(0x)?[0-9a-f]{40,}\b/gi, '[redacted]'],
  [/[A-Za-z0-9+/_-]{40,}={0,2}/g, '[redacted]'],
];

/** One line, at most 300 characters, with anything secret-shaped removed: what `last_error` stores. */
export function errorLine(e: unknown): string {
  const raw = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
  let line = raw.split('\n')[0]?.trim() || 'failed';
  for (const [re, to] of REDACTIONS) line = line.replace(re, to);
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

export const TYPE_PATTERN = /^[a-z][a-z0-9_.:-]{0,127}$/;
