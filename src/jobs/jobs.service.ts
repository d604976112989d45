/**
 * kagi's one durable job/outbox mechanism: every side effect that must survive a crash
 * (mail, webhooks, the lost-wallet freeze, key-rotation steps, approval expiry, custody
 * reconciliation) is a row in `jobs`, written by `enqueue(em, …)` inside the caller's
 * TypeORM transaction, so it commits or rolls back with the change it stems from.
 *
 * Semantics
 * - At least once: a handler may run again after a crash between its effect and the
 *   completion (handlers are idempotent, or finish with `job.completeWith(em)` inside the
 *   transaction of a database effect). Failures retry with exponential backoff per type
 *   (`backoff`, `maxAttempts`), then stop in `failed`. `get(id)` shows state, attempts and
 *   the last error: one line, secret-shaped runs redacted (job-types.ts `errorLine`).
 * - Serial per key: jobs sharing `key` run one at a time in enqueue order (enqueuers of a
 *   key are serialised by a transaction-scoped advisory lock, so id order is commit
 *   order); an unfinished earlier job (pending, retrying, running, or failed for good)
 *   holds back the later ones: retries never reorder a key. A `failed` head holds its key
 *   until `retry(id)`: skipping a step is a decision for an operator, not for the queue.
 * - Singleton: at most one pending/running job per `singletonKey` (a second enqueue is a
 *   no-op returning null). Scheduled types (`schedule: { everyMs } | { cron }`) are
 *   enqueued once per slot across instances (the schedule row is locked SKIP LOCKED and
 *   advanced in the enqueuing transaction) as singletons, so a run never overlaps itself.
 * - Crash safety: a claim is a lease (`leaseMs`, renewed at a third of it while the
 *   handler runs); a job whose worker died is due again once the lease runs out. All
 *   finishing writes are fenced by (worker, attempt).
 * - Handlers are registered per type by the module that owns the effect; this module
 *   imports no feature.
 *
 * Why hand-written rather than graphile-worker or pg-boss: semantics first.
 * graphile-worker orders a named queue by (priority, run_at, id) and pushes a failed
 * job's run_at forward, so the next job of the queue runs before the retry (it reorders
 * a key), and its batch fetch (`localQueue`) can run two jobs of one queue at once
 * (graphile/worker#621); its current 0.18 needs Node ≥ 22.18. pg-boss's `key_strict_fifo`
 * policy has the right semantics, but pg-boss 11+ needs Node ≥ 22 (kagi supports 20.19)
 * and brings its own schema, maintenance and cron tables outside kagi's migrations.
 * Measured here (bench/jobs.bench.ts, 1000 jobs, no-op handlers, one shared 2-core
 * machine under load ≈ 20): per job ≈ 0.5–0.9 ms Node CPU and ≈ 1.5–1.7 ms PostgreSQL
 * CPU to enqueue (in batches of 100) and complete; 100–170 jobs/s drained by one or two
 * workers (wall-clock bound by the machine's load); a job enqueued alone in its own
 * transaction costs ≈ 2–3 ms Node + 2 ms PostgreSQL CPU; commit → handler start p50
 * 27 ms with the NOTIFY wake against 140 ms with the 250 ms poll alone. kagi's side
 * effects are tens per second at most, so the queue is far from a bottleneck.
 */
import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { Notifier } from '../database/notifier';
import { JobRunner, type Registration, type RunnerSettings } from './job-runner';
import {
  DEFAULT_MAX_ATTEMPTS,
  nextRun,
  scheduleSpec,
  TYPE_PATTERN,
  type EnqueueInput,
  type JobHandler,
  type JobTypeOptions,
  type JobView,
} from './job-types';
import { JobsRepository } from './jobs.repository';

/** The channel enqueue notifies at commit; every worker listens on it. */
const JOBS_CHANNEL = 'kagi_jobs';
export const JOBS_SETTINGS = Symbol('JOBS_SETTINGS');
const PRUNE_TYPE = 'jobs.prune';
const KEEP_DONE_SECS = 7 * 86_400;

@Injectable()
export class Jobs implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly registry = new Map<string, Registration>();
  private readonly settings: RunnerSettings;
  private runner: JobRunner | undefined;
  private unlisten: (() => void) | undefined;

  constructor(
    private readonly repo: JobsRepository,
    private readonly notifier: Notifier,
    @Inject(AppConfig) private readonly config: Pick<AppConfig, 'offline'>,
    @Optional() @Inject(JOBS_SETTINGS) settings?: Partial<RunnerSettings>,
  ) {
    this.settings = { concurrency: 4, pollMs: 1000, reapEveryMs: 5000, worker: true, ...settings };
    // Daily at a quiet hour: finished jobs older than a week go (failed ones stay for an operator).
    this.register(PRUNE_TYPE, async () => void (await this.repo.pruneDone(KEEP_DONE_SECS)), {
      schedule: { cron: '17 3 * * *' },
      maxAttempts: 3,
    });
  }

  /** Registers the handler of `type` (once per type, before the worker starts: in a constructor or onModuleInit). */
  register<P = Record<string, unknown>>(type: string, handler: JobHandler<P>, options: JobTypeOptions = {}): void {
    if (!TYPE_PATTERN.test(type)) throw new Error(`invalid job type: ${type.slice(0, 70)}`);
    if (this.registry.has(type)) throw new Error(`job type ${type} registered twice`);
    if (this.runner) throw new Error(`job type ${type} registered after the worker started`);
    if (options.schedule) scheduleSpec(options.schedule);
    this.registry.set(type, { handler, options });
  }

  /** Writes one job in `em`'s transaction; returns its id (null: singleton already open). */
  async enqueue(em: EntityManager, input: EnqueueInput): Promise<string | null> {
    const [id] = await this.enqueueMany(em, [input]);
    return id ?? null;
  }

  /** Writes jobs in order in `em`'s transaction, with one NOTIFY for the whole transaction. */
  async enqueueMany(em: EntityManager, inputs: readonly EnqueueInput[]): Promise<Array<string | null>> {
    if (!inputs.length) return [];
    const items = inputs.map((i) => {
      if (!TYPE_PATTERN.test(i.type)) throw new Error(`invalid job type: ${i.type.slice(0, 70)}`);
      if (i.key !== undefined && (i.key.length < 1 || i.key.length > 256)) throw new Error('job key must be 1–256 characters');
      const maxAttempts = i.maxAttempts ?? this.registry.get(i.type)?.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
      if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error('maxAttempts must be a positive integer');
      return { ...i, maxAttempts };
    });
    const ids = await this.repo.insert(em, items);
    // Identical notifications of one transaction fold into one: one wake per commit.
    await this.notifier.notify(em, JOBS_CHANNEL);
    return ids;
  }

  /** State, attempts and last error of a job (undefined when unknown or pruned after 7 days done). */
  get(id: string): Promise<JobView | undefined> {
    return this.repo.get(id);
  }

  /** Gives a `failed` job a fresh set of attempts; false when it is not failed. */
  async retry(id: string): Promise<boolean> {
    const ok = await this.repo.retry(id);
    if (ok) this.runner?.wake();
    return ok;
  }

  /** The latest run of a scheduled type (e.g. readiness reads reconciliation's last result). */
  lastScheduledRun(type: string): Promise<JobView | undefined> {
    return this.repo.lastScheduledRun(type);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.offline || !this.settings.worker) return;
    await this.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  /** Starts this process's worker (Nest does at bootstrap unless offline or enqueue-only). */
  async start(): Promise<void> {
    if (this.runner) return;
    const now = new Date();
    for (const [type, { options }] of this.registry) {
      if (!options.schedule) continue;
      const spec = scheduleSpec(options.schedule);
      await this.repo.upsertSchedule(type, type, spec, 'everyMs' in options.schedule ? now : nextRun(spec, now));
    }
    const schedules = [...this.registry].filter(([, r]) => r.options.schedule).map(([t]) => t);
    const runner = new JobRunner(
      this.repo,
      this.registry,
      () => schedules,
      () =>
        this.repo.fireDueSchedules(
          schedules,
          (em, s) =>
            this.enqueue(em, {
              type: s.type,
              singletonKey: `schedule:${s.name}`,
              payload: this.registry.get(s.type)?.options.schedulePayload,
            }),
          nextRun,
        ),
      this.settings,
    );
    this.runner = runner;
    const sub = this.notifier.listen(JOBS_CHANNEL, () => runner.wake());
    this.unlisten = sub.close;
    // Without the listener the poll still finds every job; a late LISTEN only adds latency.
    await Promise.race([sub.ready, new Promise((r) => setTimeout(r, 2000))]).catch(() => undefined);
    runner.start();
  }

  async stop(): Promise<void> {
    this.unlisten?.();
    this.unlisten = undefined;
    await this.runner?.stop();
  }

  /** This instance's worker id (as stored in `locked_by`) and running job count. */
  get worker(): { id: string | undefined; running: number } {
    return { id: this.runner?.workerId, running: this.runner?.running ?? 0 };
  }
}
