/**
 * The worker half of src/jobs: one Loop per process that reaps dead workers' leases,
 * fires due schedules, claims due jobs up to its concurrency and runs them without
 * blocking the next claim. Woken by NOTIFY `kagi_jobs` (sent by enqueue at commit) and
 * by its own finished jobs; polls every `pollMs` for delayed runs and retries.
 */
import { Logger } from '@nestjs/common';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Loop } from '../common/loop';
import { firstLine } from '../common/logging';
import { backoffMs, DEFAULT_LEASE_MS, errorLine, type JobHandler, type JobTypeOptions, type RunningJob } from './job-types';
import type { ClaimedRow, Fence, JobsRepository } from './jobs.repository';

export interface RunnerSettings {
  /** Jobs run at once by this process (default 4). */
  concurrency: number;
  /** Fallback poll for delayed jobs, retries and schedules (default 1000 ms). */
  pollMs: number;
  /** How often expired leases are looked for (default 5000 ms). */
  reapEveryMs: number;
  /** False: this process only enqueues (the CLI); bootstrap starts no worker. */
  worker: boolean;
}

export interface Registration {
  handler: JobHandler<never>;
  options: JobTypeOptions;
}

export class JobRunner {
  private readonly logger = new Logger('Jobs');
  readonly workerId = `${hostname().slice(0, 40)}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly shutdown = new AbortController();
  private readonly loop: Loop;
  private lastReap = 0;
  private lastSchedules = 0;

  constructor(
    private readonly repo: JobsRepository,
    private readonly registry: ReadonlyMap<string, Registration>,
    private readonly scheduleNames: () => string[],
    private readonly fireSchedules: () => Promise<number>,
    private readonly settings: RunnerSettings,
  ) {
    this.loop = new Loop(
      settings.pollMs,
      () => this.round(),
      (e) => this.logger.warn(`jobs round failed: ${firstLine(e)}`),
    );
  }

  start(): void {
    this.loop.start();
  }

  wake(): void {
    this.loop.wake();
  }

  /**
   * Stops claiming, aborts running handlers' signals and waits for them to settle, at
   * most `graceMs`: a handler that ignores its signal is left to its lease (another
   * instance runs it again), never allowed to hang the shutdown.
   */
  async stop(graceMs = 10_000): Promise<void> {
    await this.loop.stop();
    this.shutdown.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inflight.values()]), new Promise((r) => (timer = setTimeout(r, graceMs).unref()))]);
    clearTimeout(timer);
  }

  get running(): number {
    return this.inflight.size;
  }

  private async round(): Promise<boolean> {
    if (Date.now() - this.lastReap >= this.settings.reapEveryMs) {
      this.lastReap = Date.now();
      const reaped = await this.repo.reapExpired();
      if (reaped) this.logger.warn(`${reaped} job(s) whose worker stopped renewing its lease are due again`);
    }
    // Schedules at most once per poll interval, not on every wake of a busy worker.
    if (this.scheduleNames().length && Date.now() - this.lastSchedules >= this.settings.pollMs) {
      this.lastSchedules = Date.now();
      await this.fireSchedules();
    }
    const free = this.settings.concurrency - this.inflight.size;
    if (free <= 0) return false;
    const types = [...this.registry.keys()];
    const leases = Object.fromEntries(types.map((t) => [t, (this.registry.get(t)?.options.leaseMs ?? DEFAULT_LEASE_MS) / 1000]));
    const claimed = await this.repo.claim(types, free, this.workerId, leases);
    for (const row of claimed) {
      const p = this.run(row).finally(() => {
        this.inflight.delete(row.id);
        this.loop.wake();
      });
      this.inflight.set(row.id, p);
    }
    return claimed.length === free;
  }

  private async run(row: ClaimedRow): Promise<void> {
    const reg = this.registry.get(row.type);
    const fence: Fence = { id: row.id, worker: this.workerId, attempt: row.attempts };
    const leaseMs = reg?.options.leaseMs ?? DEFAULT_LEASE_MS;
    const abort = new AbortController();
    const onShutdown = () => abort.abort(new Error('worker shutting down'));
    this.shutdown.signal.addEventListener('abort', onShutdown, { once: true });
    // Renew at a third of the lease; a failed renewal means another worker may own it now.
    const beat = setInterval(() => {
      this.repo
        .heartbeat(fence, leaseMs / 1000)
        .then((ours) => {
          if (!ours) abort.abort(new Error('lease lost'));
        })
        .catch((e: unknown) => this.logger.warn(`job ${row.id} heartbeat failed: ${firstLine(e)}`));
    }, leaseMs / 3);
    let completedInside = false;
    const job: RunningJob = {
      id: row.id,
      type: row.type,
      key: row.key,
      payload: row.payload,
      attempt: row.attempts,
      maxAttempts: row.max_attempts,
      signal: abort.signal,
      completeWith: async (em) => {
        if (!(await this.repo.complete(fence, em))) throw new Error(`job ${row.id} is no longer held by this worker`);
        completedInside = true;
      },
    };
    try {
      if (!reg) throw new Error(`no handler registered for ${row.type}`);
      await (reg.handler as JobHandler)(job);
      // Also after completeWith: when the handler's transaction rolled back, this completes it.
      if (!(await this.repo.complete(fence)) && !completedInside)
        this.logger.warn(`job ${row.id} (${row.type}) finished after its lease was lost; its new owner runs it again`);
    } catch (e) {
      const line = errorLine(e);
      const state = await this.repo
        .fail(fence, line, backoffMs(row.attempts, reg?.options.backoff))
        .catch((err: unknown) => this.logger.warn(`job ${row.id} failure not recorded: ${firstLine(err)}`));
      const what = state === 'failed' ? 'failed for good' : `will retry (attempt ${row.attempts} of ${row.max_attempts})`;
      this.logger.warn(`job ${row.id} (${row.type}) ${what}: ${line}`);
    } finally {
      clearInterval(beat);
      this.shutdown.signal.removeEventListener('abort', onShutdown);
    }
  }
}
