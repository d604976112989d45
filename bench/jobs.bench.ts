/**
 * `npm run bench -- jobs [--n N]`: src/jobs on an embedded PostgreSQL started here.
 * The handlers do nothing, so each row is the queue's own cost per job:
 *   - enqueue: one job per committed transaction (advisory lock only for keyed jobs);
 *   - drain: N jobs enqueued in batches of 100, then run to `done` by 1 or 2 workers
 *     (each a `Jobs` with its own pool, as two API instances), unkeyed or on 16 serial keys;
 *   - latency: commit → handler start, one job at a time, woken by NOTIFY (poll 5 s) and,
 *     for comparison, by the 250 ms poll alone.
 * CPU is /proc utime+stime: this Node process (enqueuer and workers) and the PostgreSQL
 * tree (postmaster, live and exited backends), divided by the jobs of the row.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options';
import { runMigrations } from '../src/database/database.module';
import { Notifier } from '../src/database/notifier';
import { freePort, startPostgres } from '../dev/processes';
import type { EnqueueInput } from '../src/jobs/job-types';
import { Jobs } from '../src/jobs/jobs.service';
import { JobsRepository } from '../src/jobs/jobs.repository';
import { cpuSeconds, treeCpuSeconds } from './proc';
import type { BenchRow, Suite } from './run';

const argN = () => {
  const i = process.argv.indexOf('--n');
  return i > 0 ? Number(process.argv[i + 1]) : 1000;
};

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

interface Env {
  url: string;
  pgPid: number;
  producer: Jobs;
  admin: DataSource;
}

async function worker(env: Env, type: string, onRun: (id: string) => void, settings: { pollMs: number; offline?: boolean }) {
  const ds = new DataSource(dataSourceOptions(env.url, { extra: { max: 6 } }));
  await ds.initialize();
  const notifier = new Notifier({ databaseUrl: env.url, offline: settings.offline });
  const jobs = new Jobs(new JobsRepository(ds), notifier, {}, { pollMs: settings.pollMs, concurrency: 8 });
  jobs.register(type, (job) => {
    onRun(job.id);
    return Promise.resolve();
  });
  await jobs.start();
  return async () => {
    await jobs.stop();
    await notifier.close();
    await ds.destroy();
  };
}

/**
 * PostgreSQL's CPU: the live tree plus what the postmaster has reaped from exited backends
 * (cutime+cstime): pools close idle connections mid-row, and their time must not vanish.
 */
function pgCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (treeCpuSeconds(pid) ?? NaN) + (Number(f[13]) + Number(f[14])) / 100;
}

function cpuNow(env: Env): { node: number; pg: number } {
  return { node: cpuSeconds(process.pid) ?? NaN, pg: pgCpuSeconds(env.pgPid) };
}

function cpuRow(env: Env, before: { node: number; pg: number }, jobs: number): BenchRow {
  const after = cpuNow(env);
  return {
    'node CPU ms/job': ((after.node - before.node) * 1000) / jobs,
    'pg CPU ms/job': ((after.pg - before.pg) * 1000) / jobs,
  };
}

async function enqueueRow(env: Env, n: number, keyed: boolean): Promise<BenchRow> {
  const before = cpuNow(env);
  const t0 = performance.now();
  for (let i = 0; i < n; i++)
    await env.admin.transaction((em) => env.producer.enqueue(em, { type: 'bench.idle', key: keyed ? `k${i % 16}` : undefined }));
  const s = (performance.now() - t0) / 1000;
  return { row: `enqueue, 1 job per transaction${keyed ? ', 16 keys' : ''}`, jobs: n, 'jobs/s': n / s, ...cpuRow(env, before, n) };
}

async function drainRow(env: Env, n: number, workers: number, keys: number): Promise<BenchRow> {
  const type = `bench.drain${workers}k${keys}`;
  let done = 0;
  let finish: () => void = () => undefined;
  const all = new Promise<void>((r) => (finish = r));
  const onRun = () => {
    if (++done === n) finish();
  };
  const stops = [];
  for (let w = 0; w < workers; w++) stops.push(await worker(env, type, onRun, { pollMs: 1000 }));
  const before = cpuNow(env);
  const t0 = performance.now();
  for (let i = 0; i < n; i += 100) {
    const batch: EnqueueInput[] = Array.from({ length: Math.min(100, n - i) }, (_, j) => ({
      type,
      key: keys ? `endpoint-${(i + j) % keys}` : undefined,
    }));
    await env.admin.transaction((em) => env.producer.enqueueMany(em, batch));
  }
  await all;
  const s = (performance.now() - t0) / 1000;
  const row: BenchRow = {
    row: `enqueue+complete, ${workers} worker(s) × 8, ${keys ? `${keys} serial keys` : 'no key'}`,
    jobs: n,
    'jobs/s': n / s,
    ...cpuRow(env, before, n),
  };
  for (const stop of stops) await stop();
  return row;
}

async function latencyRow(env: Env, n: number, viaNotify: boolean): Promise<BenchRow> {
  const type = viaNotify ? 'bench.latency' : 'bench.latencypoll';
  const started = new Map<string, number>();
  const stop = await worker(env, type, (id) => started.set(id, performance.now()), {
    pollMs: viaNotify ? 5000 : 250,
    offline: !viaNotify,
  });
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    // A random pause first, so the commit lands anywhere in the poll cycle (not right after the last job's wake).
    await new Promise((r) => setTimeout(r, Math.random() * 300));
    const id = (await env.admin.transaction((em) => env.producer.enqueue(em, { type })))!;
    const committed = performance.now();
    while (!started.has(id)) await new Promise((r) => setTimeout(r, 1));
    lat.push(started.get(id)! - committed);
  }
  await stop();
  return {
    row: viaNotify ? 'commit → handler start (NOTIFY wake)' : 'commit → handler start (250 ms poll only)',
    jobs: n,
    'p50 ms': pct(lat, 50),
    'p99 ms': pct(lat, 99),
  };
}

const suite: Suite = async () => {
  const n = argN();
  const dir = mkdtempSync(join(tmpdir(), 'kagi-bench-jobs-'));
  const pg = await startPostgres({ dir, port: await freePort(), password: 'bench' });
  const admin = new DataSource(dataSourceOptions(pg.url, { extra: { max: 4 } }));
  const rows: BenchRow[] = [];
  try {
    await admin.initialize();
    await runMigrations(admin);
    const env: Env = {
      url: pg.url,
      pgPid: pg.child.pid ?? 0,
      admin,
      producer: new Jobs(new JobsRepository(admin), new Notifier({ databaseUrl: pg.url, offline: true }), {}),
    };
    rows.push(await enqueueRow(env, n, false));
    rows.push(await enqueueRow(env, n, true));
    await admin.query(`DELETE FROM jobs`);
    rows.push(await drainRow(env, n, 1, 0));
    rows.push(await drainRow(env, n, 2, 0));
    rows.push(await drainRow(env, n, 2, 16));
    rows.push(await latencyRow(env, 100, true));
    rows.push(await latencyRow(env, 100, false));
  } finally {
    if (admin.isInitialized) await admin.destroy();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    settings: { n, batch: 100, concurrencyPerWorker: 8, handler: 'no-op (queue cost only)' },
    rows,
    notes: [
      'Embedded PostgreSQL on the same machine, default settings (fsync on); the machine (2 cores) was shared with other agents while this ran.',
      'Serial keys: 16 keys, so at most 16 jobs can run at once however many workers there are.',
    ],
  };
};

export default suite;
