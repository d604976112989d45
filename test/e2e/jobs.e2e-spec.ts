/**
 * src/jobs and src/database/notifier.ts against the run's real PostgreSQL (a database of
 * this file's own): transactional enqueue, at-least-once with backoff, serial keys held
 * by a failing head, two workers on one database, schedules on one instance, a worker
 * killed with SIGKILL, state by id, and LISTEN/NOTIFY at commit surviving a killed
 * listening connection. Each worker is a real `Jobs` with its own connection pool, as
 * two API instances would have.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { runMigrations } from '../../src/database/database.module';
import { notify, Notifier } from '../../src/database/notifier';
import type { JobTypeOptions, RunningJob } from '../../src/jobs/job-types';
import { Jobs } from '../../src/jobs/jobs.service';
import { JobsRepository } from '../../src/jobs/jobs.repository';
import { freshDatabase } from '../support/db';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

interface Instance {
  ds: DataSource;
  jobs: Jobs;
  notifier: Notifier;
  stop(): Promise<void>;
}

let url: string;
let admin: DataSource;
/** Enqueues only (never started): the API instance that handles the request. */
let producer: Jobs;
const instances: Instance[] = [];

async function instance(
  register: (jobs: Jobs) => void,
  settings: { pollMs?: number; concurrency?: number; reapEveryMs?: number } = {},
): Promise<Instance> {
  const ds = new DataSource(dataSourceOptions(url, { extra: { max: 6, application_name: 'kagi-jobs-test' } }));
  await ds.initialize();
  const notifier = new Notifier({ databaseUrl: url });
  const jobs = new Jobs(new JobsRepository(ds), notifier, {}, { pollMs: 250, reapEveryMs: 250, ...settings });
  register(jobs);
  await jobs.start();
  const inst: Instance = {
    ds,
    jobs,
    notifier,
    stop: async () => {
      await jobs.stop();
      await notifier.close();
      if (ds.isInitialized) await ds.destroy();
    },
  };
  instances.push(inst);
  return inst;
}

/** Runs `fn` in a committed transaction of the test's own pool (the "caller's" transaction). */
function inTx<T>(fn: (em: import('typeorm').EntityManager) => Promise<T>): Promise<T> {
  return admin.transaction(fn);
}

const fast: JobTypeOptions = { backoff: { baseMs: 200, maxMs: 2000 } };

beforeAll(async () => {
  url = await freshDatabase('jobs');
  admin = new DataSource(dataSourceOptions(url, { extra: { max: 4 } }));
  await admin.initialize();
  await runMigrations(admin);
  producer = new Jobs(new JobsRepository(admin), new Notifier({ databaseUrl: url, offline: true }), {});
});

// Each test's workers stop with it, so no test sees another's (and the killed-connection test kills only its own).
afterEach(async () => {
  for (const i of instances.splice(0)) await i.stop().catch(() => undefined);
});

afterAll(async () => {
  await admin?.destroy();
});

describe('enqueue inside the caller transaction', () => {
  it('a job enqueued in a rolled-back transaction never runs; a committed one runs at once, woken by NOTIFY', async () => {
    const ran: string[] = [];
    const started = new Map<string, number>();
    // A 30 s poll: only the commit's NOTIFY can make the job start quickly.
    const w = await instance(
      (j) =>
        j.register<{ n: string }>('test.tx', async (job) => {
          started.set(job.id, Date.now());
          ran.push(job.payload.n);
        }),
      { pollMs: 30_000 },
    );
    let rolledBackId: string | null = null;
    await expect(
      inTx(async (em) => {
        rolledBackId = await w.jobs.enqueue(em, { type: 'test.tx', payload: { n: 'rolled-back' } });
        throw new Error('the business change failed');
      }),
    ).rejects.toThrow('the business change failed');
    expect(rolledBackId).toMatch(/^\d+$/);
    const committedAt = Date.now();
    const id = await inTx((em) => w.jobs.enqueue(em, { type: 'test.tx', payload: { n: 'committed' } }));
    await until('the committed job', async () => (await w.jobs.get(id!))?.state === 'done');
    await sleep(300);
    expect(ran).toEqual(['committed']);
    expect(await w.jobs.get(rolledBackId!)).toBeUndefined();
    // Generous for a shared 2-core machine, far below the 30 s poll.
    expect(started.get(id!)! - committedAt).toBeLessThan(3000);
  });

  it('enqueueMany writes in order and a singleton key is open at most once', async () => {
    const w = await instance((j) => j.register('test.many', async () => void (await sleep(1))));
    const ids = await inTx((em) =>
      w.jobs.enqueueMany(em, [
        { type: 'test.many', singletonKey: 's1', runAt: new Date(Date.now() + 60_000) },
        { type: 'test.many', singletonKey: 's1' },
        { type: 'test.many', payload: { x: 1 } },
      ]),
    );
    expect(ids[0]).toMatch(/^\d+$/);
    expect(ids[1]).toBeNull();
    expect(BigInt(ids[2]!)).toBeGreaterThan(BigInt(ids[0]!));
    const again = await inTx((em) => w.jobs.enqueue(em, { type: 'test.many', singletonKey: 's1' }));
    expect(again).toBeNull();
    const view = await w.jobs.get(ids[0]!);
    expect(view).toMatchObject({ type: 'test.many', state: 'pending', attempts: 0, lastError: null });
  });
});

describe('at least once with backoff', () => {
  it('retries a failing job with growing delays, stores one redacted error line, ends done', async () => {
    const runs: number[] = [];
    const secretUrl = 'postgres://kagi:hunter2-db-password@db.internal:5432/kagi';
    const privateKey = `0x${'ab'.repeat(32)}`;
    const w = await instance((j) =>
      j.register(
        'test.flaky',
        async (job: RunningJob) => {
          runs.push(Date.now());
          if (job.attempt < 3) throw new Error(`smtp down at ${secretUrl} with key ${privateKey}\nstack line two`);
        },
        fast,
      ),
    );
    const id = (await inTx((em) => w.jobs.enqueue(em, { type: 'test.flaky' })))!;
    await until('a first failure', async () => (await w.jobs.get(id))?.lastError);
    const failedOnce = (await w.jobs.get(id))!;
    expect(failedOnce.lastError).not.toContain('\n');
    expect(failedOnce.lastError).not.toContain('hunter2');
    expect(failedOnce.lastError).not.toContain('ab'.repeat(32));
    expect(failedOnce.lastError).toContain('smtp down');
    await until('done', async () => (await w.jobs.get(id))?.state === 'done');
    const done = (await w.jobs.get(id))!;
    expect(done.attempts).toBe(3);
    expect(runs).toHaveLength(3);
    // base 200 ms, doubling: ≥ 200 ms before the 2nd run, ≥ 400 ms before the 3rd.
    expect(runs[1]! - runs[0]!).toBeGreaterThanOrEqual(190);
    expect(runs[2]! - runs[1]!).toBeGreaterThanOrEqual(390);
  });

  it('stops in failed after maxAttempts, and retry(id) gives it a fresh set', async () => {
    let healthy = false;
    const w = await instance((j) =>
      j.register(
        'test.doomed',
        () => {
          if (!healthy) throw new Error('endpoint refused');
          return Promise.resolve();
        },
        fast,
      ),
    );
    const id = (await inTx((em) => w.jobs.enqueue(em, { type: 'test.doomed', maxAttempts: 2 })))!;
    await until('failed', async () => (await w.jobs.get(id))?.state === 'failed');
    expect(await w.jobs.get(id)).toMatchObject({ state: 'failed', attempts: 2, maxAttempts: 2, lastError: 'endpoint refused' });
    healthy = true;
    expect(await w.jobs.retry(id)).toBe(true);
    await until('done after retry', async () => (await w.jobs.get(id))?.state === 'done');
    expect(await w.jobs.retry(id)).toBe(false);
  });
});

describe('serial per key', () => {
  it('runs a key in enqueue order, one at a time; a failing head holds back its key but not other keys', async () => {
    const log: string[] = [];
    const active = new Map<string, number>();
    let overlap = 0;
    let headFailures = 0;
    const handler = async (job: RunningJob<{ name: string }>) => {
      const k = job.key ?? '';
      active.set(k, (active.get(k) ?? 0) + 1);
      if ((active.get(k) ?? 0) > 1) overlap++;
      try {
        await sleep(5);
        if (job.payload.name === 'a1' && headFailures < 2) {
          headFailures++;
          log.push('a1:fail');
          throw new Error('endpoint 503');
        }
        log.push(job.payload.name);
      } finally {
        active.set(k, (active.get(k) ?? 1) - 1);
      }
    };
    // Two workers with room for many jobs: only the key keeps them apart.
    await instance((j) => j.register('test.hook', handler, fast), { concurrency: 8 });
    await instance((j) => j.register('test.hook', handler, fast), { concurrency: 8 });
    const w = instances.at(-1)!;
    await inTx((em) =>
      w.jobs.enqueueMany(em, [
        { type: 'test.hook', key: 'endpoint:a', payload: { name: 'a1' } },
        { type: 'test.hook', key: 'endpoint:b', payload: { name: 'b1' } },
        { type: 'test.hook', key: 'endpoint:a', payload: { name: 'a2' } },
        { type: 'test.hook', key: 'endpoint:b', payload: { name: 'b2' } },
      ]),
    );
    // A later transaction on the same key queues behind the retrying head.
    await inTx((em) => w.jobs.enqueue(em, { type: 'test.hook', key: 'endpoint:a', payload: { name: 'a3' } }));
    await until('all five', () => ['a1', 'a2', 'a3', 'b1', 'b2'].every((n) => log.includes(n)));
    const a = log.filter((e) => e.startsWith('a'));
    expect(a).toEqual(['a1:fail', 'a1:fail', 'a1', 'a2', 'a3']);
    expect(log.filter((e) => e.startsWith('b'))).toEqual(['b1', 'b2']);
    // Key b was not held back by key a's retries.
    expect(log.indexOf('b2')).toBeLessThan(log.indexOf('a1'));
    expect(overlap).toBe(0);
  });

  it('a head failed for good keeps its key held until retried', async () => {
    const log: string[] = [];
    let fixed = false;
    const w = await instance((j) =>
      j.register<{ n: string }>(
        'test.rotation',
        async (job) => {
          if (job.payload.n === 'step1' && !fixed) throw new Error('kms unavailable');
          log.push(job.payload.n);
          await Promise.resolve();
        },
        fast,
      ),
    );
    const [s1, s2] = await inTx((em) =>
      w.jobs.enqueueMany(em, [
        { type: 'test.rotation', key: 'rotation:1', payload: { n: 'step1' }, maxAttempts: 1 },
        { type: 'test.rotation', key: 'rotation:1', payload: { n: 'step2' } },
      ]),
    );
    await until('step1 failed', async () => (await w.jobs.get(s1!))?.state === 'failed');
    await sleep(1000); // several poll rounds
    expect(await w.jobs.get(s2!)).toMatchObject({ state: 'pending', attempts: 0 });
    expect(log).toEqual([]);
    fixed = true;
    await w.jobs.retry(s1!);
    await until('step2 done', async () => (await w.jobs.get(s2!))?.state === 'done');
    expect(log).toEqual(['step1', 'step2']);
  });
});

describe('several instances on one database', () => {
  it('never runs one job twice, even with both workers claiming at once', async () => {
    const runs = new Map<string, number>();
    const running = new Set<string>();
    const byWorker = { a: 0, b: 0 };
    let concurrentSame = 0;
    const handler = (who: 'a' | 'b') => async (job: RunningJob) => {
      if (running.has(job.id)) concurrentSame++;
      running.add(job.id);
      runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
      byWorker[who]++;
      await sleep(2);
      running.delete(job.id);
    };
    await instance((j) => j.register('test.bulk', handler('a')), { concurrency: 6 });
    await instance((j) => j.register('test.bulk', handler('b')), { concurrency: 6 });
    const ids = await inTx((em) =>
      producer.enqueueMany(
        em,
        Array.from({ length: 300 }, (_, i) => ({ type: 'test.bulk', payload: { i } })),
      ),
    );
    await until('300 runs', () => runs.size === 300, 60_000);
    await sleep(300);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(concurrentSame).toBe(0);
    const rows = await admin.query<Array<{ state: string; n: string }>>(
      `SELECT state, count(*)::text AS n FROM jobs WHERE id = ANY($1::bigint[]) GROUP BY state`,
      [ids],
    );
    expect(rows).toEqual([{ state: 'done', n: '300' }]);
    expect(byWorker.a).toBeGreaterThan(0);
    expect(byWorker.b).toBeGreaterThan(0);
  });

  it('a scheduled type fires once per slot across instances and never overlaps itself', async () => {
    const starts: Array<{ at: number; who: string; id: string }> = [];
    let active = 0;
    let overlap = 0;
    const make = (who: string) => (j: Jobs) =>
      j.register(
        'test.tick',
        async (job) => {
          if (++active > 1) overlap++;
          starts.push({ at: Date.now(), who, id: job.id });
          await sleep(50);
          active--;
        },
        { schedule: { everyMs: 400 } },
      );
    await instance(make('a'), { pollMs: 50 });
    await instance(make('b'), { pollMs: 50 });
    const t0 = Date.now();
    await sleep(4000);
    const elapsed = Date.now() - t0;
    const slots = elapsed / 400;
    expect(overlap).toBe(0);
    expect(new Set(starts.map((s) => s.id)).size).toBe(starts.length);
    // One run per slot, not one per instance per slot (that would be ~2× slots).
    expect(starts.length).toBeGreaterThanOrEqual(Math.floor(slots / 2));
    expect(starts.length).toBeLessThanOrEqual(Math.ceil(slots) + 1);
    const last = await instances.at(-1)!.jobs.lastScheduledRun('test.tick');
    expect(last?.type).toBe('test.tick');
  });
});

describe('crash safety', () => {
  it('a job claimed by a worker killed with SIGKILL is run again after its lease', async () => {
    const out = mkdtempSync(join(tmpdir(), 'kagi-jobs-build-'));
    try {
      // The worker runs in a child process from an SWC build of src/, as the API would.
      execFileSync(process.execPath, [join('node_modules', '.bin', 'swc'), 'src', '-d', out, '--quiet', '--ignore', '**/*.spec.ts'], {
        stdio: 'ignore',
      });
      const script = join(out, 'worker.js');
      writeFileSync(
        script,
        `require('reflect-metadata');
const { DataSource } = require('typeorm');
const { dataSourceOptions } = require('./src/database/data-source-options');
const { Notifier } = require('./src/database/notifier');
const { Jobs } = require('./src/jobs/jobs.service');
const { JobsRepository } = require('./src/jobs/jobs.repository');
(async () => {
  const url = process.argv[2];
  const ds = new DataSource(dataSourceOptions(url, { extra: { max: 3 } }));
  await ds.initialize();
  const jobs = new Jobs(new JobsRepository(ds), new Notifier({ databaseUrl: url }), {}, { pollMs: 100 });
  jobs.register('test.crash', async (job) => { process.stdout.write('started ' + job.id + '\\n'); await new Promise(() => {}); }, { leaseMs: 1500 });
  await jobs.start();
})();
`,
      );
      const id = (await inTx((em) => producer.enqueue(em, { type: 'test.crash' })))!;
      const child = spawn(process.execPath, [script, url], {
        env: { ...process.env, NODE_PATH: join(process.cwd(), 'node_modules') },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      await until(
        'the child to start the job',
        () => {
          if (child.exitCode !== null) throw new Error(`worker child exited with ${child.exitCode}`);
          return stdout.includes(`started ${id}`);
        },
        60_000,
      );
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const [held] = await admin.query<Array<{ state: string; locked_until: Date }>>(`SELECT state, locked_until FROM jobs WHERE id = $1`, [
        id,
      ]);
      expect(held?.state).toBe('running');
      const rerun: Array<{ at: number; attempt: number }> = [];
      const w = await instance((j) =>
        j.register('test.crash', async (job) => {
          rerun.push({ at: Date.now(), attempt: job.attempt });
          await Promise.resolve();
        }),
      );
      await until('the rerun', async () => (await w.jobs.get(id))?.state === 'done', 30_000);
      expect(rerun).toHaveLength(1);
      expect(rerun[0]!.attempt).toBe(2);
      // Not before the dead worker's lease ran out.
      expect(rerun[0]!.at).toBeGreaterThanOrEqual(new Date(held!.locked_until).getTime() - 50);
      expect((await w.jobs.get(id))?.lastError).toMatch(/lease expired/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('LISTEN/NOTIFY', () => {
  it('delivers at commit only, never for a rollback, and again after the listening connection is killed', async () => {
    const notifier = new Notifier({ databaseUrl: url });
    const got: Array<string | undefined> = [];
    try {
      const sub = notifier.listen('test_round', (p) => got.push(p));
      await sub.ready;
      const qr = admin.createQueryRunner();
      await qr.connect();
      await qr.startTransaction();
      await notify(qr.manager, 'test_round', 'round-1');
      await sleep(400);
      expect(got).toEqual([]); // not before commit
      await qr.commitTransaction();
      await qr.release();
      await until('round-1', () => got.includes('round-1'), 5000);
      await expect(
        inTx(async (em) => {
          await notify(em, 'test_round', 'rolled-back');
          throw new Error('rollback');
        }),
      ).rejects.toThrow('rollback');
      // Two identical notifications in one transaction arrive once.
      await inTx(async (em) => {
        await notify(em, 'test_round', 'round-2');
        await notify(em, 'test_round', 'round-2');
      });
      await until('round-2', () => got.includes('round-2'), 5000);
      await sleep(300);
      expect(got).toEqual(['round-1', 'round-2']);

      const killed = await admin.query<Array<{ ok: boolean }>>(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'kagi-notifier' AND datname = current_database()`,
      );
      expect(killed.length).toBeGreaterThanOrEqual(1);
      // After reconnecting, every listener is told once to re-check (payload undefined) ...
      await until('the reconnect wake', () => got.includes(undefined), 15_000);
      expect(notifier.connects).toBe(2);
      // ... and notifications flow again on the new connection.
      await inTx((em) => notify(em, 'test_round', 'round-3'));
      await until('round-3', () => got.includes('round-3'), 5000);
      sub.close();
    } finally {
      await notifier.close();
    }
  });

  it('waitFor wakes on the commit that makes the condition true, or times out', async () => {
    const notifier = new Notifier({ databaseUrl: url });
    try {
      await admin.query(`CREATE TABLE IF NOT EXISTS test_flags (name text PRIMARY KEY)`);
      const check = async () => {
        const r = await admin.query<Array<{ name: string }>>(`SELECT name FROM test_flags WHERE name = 'ready'`);
        return r[0]?.name;
      };
      const t0 = Date.now();
      const waiting = notifier.waitFor('test_flag', check, 10_000);
      await sleep(300);
      await inTx(async (em) => {
        await em.query(`INSERT INTO test_flags (name) VALUES ('ready')`);
        await notify(em, 'test_flag');
      });
      expect(await waiting).toBe('ready');
      expect(Date.now() - t0).toBeLessThan(5000);
      const t1 = Date.now();
      expect(await notifier.waitFor('test_flag', async () => Promise.resolve(undefined), 400)).toBeUndefined();
      expect(Date.now() - t1).toBeGreaterThanOrEqual(390);
    } finally {
      await notifier.close();
    }
  });
});
