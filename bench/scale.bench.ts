/**
 * `npm run bench -- scale [--n 1000] [--instances 1,2,3] [--signers 4]`: scale-out on one
 * PostgreSQL and one Anvil (issue 21, item 3). For each instance count k: k API processes
 * (`node dist/src/main.js`, same DATABASE_URL, same local keyring), a fresh chain, `--signers`
 * firms (one signer each) with a non-matching approval policy and one webhook endpoint each
 * (every transaction event, to a receiver in this process), then n `POST /issue` requests kept
 * 32 in flight and spread round-robin over the instances, as a load balancer would.
 *
 * Reports confirmed ops/s (accepted → every row final), the ratio to raw viem on the same
 * chain (measured before each k), the CPU ms per operation of each instance, of all of them,
 * of PostgreSQL and Anvil, and the coordination overhead: total API CPU ms/op at k minus at 1,
 * and that per added instance. CPU is read until every `transaction.confirmed` delivery has
 * arrived, so the webhook work is inside it. All processes share this machine's cores: on 2
 * cores more instances cannot add capacity, so what this measures is the cost of coordination.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { TRANSACTION_EVENT_TYPES } from '../src/webhooks/webhook-events';
import {
  adminLogin,
  argOf,
  benchEnv,
  createLane,
  json,
  pct,
  raw,
  startApi,
  startInfra,
  treeCpu,
  type ApiHandle,
  type Infra,
  type Lane,
} from './api-harness';
import type { BenchRow, Suite } from './run';

/** Requests the load generator keeps in flight (as the pipeline bench). */
const IN_FLIGHT = 32;
/** How long the webhook deliveries of a run may trail its last confirmation. */
const DELIVERIES_WITHIN_MS = 120_000;
/** How long the instances' idle CPU is sampled after the run. */
const IDLE_SAMPLE_MS = 3_000;

/** Counts `transaction.confirmed` deliveries by transaction id (signatures are the webhooks e2e test's business). */
class Receiver {
  readonly confirmed = new Set<string>();
  deliveries = 0;
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.deliveries++;
        try {
          const e = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type?: string; data?: { id?: string } };
          if (e.type === 'transaction.confirmed' && e.data?.id) this.confirmed.add(e.data.id);
        } catch {
          /* not an event: counted, not recorded */
        }
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

/** A firm as issue 21 asks to measure: approvals on (a policy no issue of the bench matches) and events on (one endpoint). */
async function configureFirm(base: string, lane: Lane, hookUrl: string): Promise<void> {
  const policy = await json(base, 'PUT', `/v1/operators/${lane.operatorId}/policy`, lane.token, {
    rules: [{ kinds: ['issue'], minAmount: '1000000000000', approvals: 1 }],
  });
  if (policy.status !== 200) throw new Error(`PUT policy answered ${policy.status}: ${JSON.stringify(policy.body)}`);
  const hook = await json(base, 'POST', '/v1/webhooks', lane.token, { url: hookUrl, events: [...TRANSACTION_EVENT_TYPES] });
  if (hook.status !== 201) throw new Error(`POST /v1/webhooks answered ${hook.status}: ${JSON.stringify(hook.body)}`);
}

interface Run {
  row: BenchRow;
  apiMsPerOp: number;
}

async function runScale(
  k: number,
  n: number,
  signers: number,
  env: Record<string, string>,
  infra: Infra,
  receiver: Receiver,
  hookUrl: string,
): Promise<Run> {
  const apis: ApiHandle[] = [];
  const db = new PgClient({ connectionString: infra.databaseUrl });
  await db.connect();
  try {
    // One after the other: the first runs the migrations and creates the keyring the others open.
    for (let i = 0; i < k; i++) apis.push(await startApi(env));
    const first = apis[0]!.base;
    const admin = await adminLogin(first);
    const lanes: Lane[] = [];
    for (let s = 0; s < signers; s++) {
      const lane = await createLane(first, admin, `k${k}-${s}-${Date.now().toString(36)}`);
      await configureFirm(first, lane, hookUrl);
      lanes.push(lane);
    }
    const operatorIds = lanes.map((l) => l.operatorId);
    const others = { PostgreSQL: infra.pg.child.pid!, Anvil: infra.anvil.child.pid! };
    const cpuOf = () => ({
      apis: apis.map((a) => treeCpu(a.pid)),
      others: Object.fromEntries(Object.entries(others).map(([name, pid]) => [name, treeCpu(pid)])) as Record<string, number>,
      self: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    });
    const cpu0 = cpuOf();
    const perInstance = apis.map(() => 0);
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        for (;;) {
          const i = next++;
          if (i >= n) return;
          const lane = lanes[i % lanes.length]!;
          // Round-robin over the instances, as a load balancer would.
          const at = i % apis.length;
          perInstance[at]!++;
          const r = await json(apis[at]!.base, 'POST', `/v1/tokens/${lane.tokenId}/issue`, lane.token, {
            userId: lane.userId,
            amount: '1',
          });
          if (r.status !== 202) throw new Error(`issue answered ${r.status}: ${JSON.stringify(r.body)}`);
        }
      }),
    );
    const acceptedSeconds = (performance.now() - t0) / 1000;
    const open = `SELECT count(*)::int AS open FROM transactions WHERE kind = 'issue' AND operator_id = ANY($1) AND status NOT IN ('confirmed', 'failed')`;
    for (;;) {
      const { rows } = await db.query<{ open: number }>(open, [operatorIds]);
      if (!rows[0]?.open) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const seconds = (performance.now() - t0) / 1000;
    const { rows: txs } = await db.query<{ id: string; ms: number; status: string }>(
      `SELECT id, EXTRACT(EPOCH FROM (updated_at - created_at)) * 1000 AS ms, status FROM transactions WHERE kind = 'issue' AND operator_id = ANY($1)`,
      [operatorIds],
    );
    // The events' work belongs to the operations: CPU is read once every confirmation was delivered.
    const deadline = Date.now() + DELIVERIES_WITHIN_MS;
    const undelivered = () => txs.filter((t) => t.status === 'confirmed' && !receiver.confirmed.has(t.id)).length;
    while (undelivered() > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    const deliveredSeconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuOf();
    // What the instances burn with nothing left to do (poll timers, leases), read once every row is final and
    // every event delivered: part of what each added instance costs, in proportion to a run's duration.
    const idleT0 = performance.now();
    await new Promise((res) => setTimeout(res, IDLE_SAMPLE_MS));
    const idle1 = cpuOf();
    const idleMsPerS = apis.map((_, i) => ((idle1.apis[i]! - cpu1.apis[i]!) * 1000) / ((performance.now() - idleT0) / 1000));
    const msPerOp = (a: number, b: number) => Number((((b - a) * 1000) / n).toFixed(2));
    const apiMs = apis.map((_, i) => msPerOp(cpu0.apis[i]!, cpu1.apis[i]!));
    const apiTotal = Number(apiMs.reduce((s, x) => s + x, 0).toFixed(2));
    const ms = txs.map((t) => Number(t.ms));
    const row: BenchRow = {
      instances: k,
      signers,
      n,
      'ops/s': Math.round(n / seconds),
      'accepted/s': Math.round(n / acceptedSeconds),
      'p50 ms': Math.round(pct(ms, 50)),
      'p99 ms': Math.round(pct(ms, 99)),
      failed: txs.filter((t) => t.status !== 'confirmed').length,
      'requests per instance': perInstance.join(' / '),
      'API CPU ms/op (each)': apiMs.map((x) => x.toFixed(2)).join(' / '),
      'API CPU ms/op (total)': apiTotal,
      'idle API CPU ms/s (each)': idleMsPerS.map((x) => x.toFixed(1)).join(' / '),
      'PostgreSQL CPU ms/op': msPerOp(cpu0.others.PostgreSQL!, cpu1.others.PostgreSQL!),
      'Anvil CPU ms/op': msPerOp(cpu0.others.Anvil!, cpu1.others.Anvil!),
      'load generator + receiver CPU ms/op': msPerOp(cpu0.self, cpu1.self),
      'webhook confirmations missing': undelivered(),
      'last delivery after s': Number(deliveredSeconds.toFixed(1)),
    };
    return { row, apiMsPerOp: apiTotal };
  } finally {
    await db.end();
    for (const a of apis) await a.stop();
  }
}

const suite: Suite = async () => {
  const n = Number(argOf('--n') ?? 1000);
  const counts = (argOf('--instances') ?? '1,2,3').split(',').map(Number);
  const signers = Number(argOf('--signers') ?? 4);
  if (!Number.isInteger(n) || n < 1) throw new Error('--n must be a positive integer');
  if (counts.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--instances must be a list of positive integers, e.g. 1,2,3');
  const infra = await startInfra();
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-bench-data-'));
  const receiver = new Receiver();
  const rows: BenchRow[] = [];
  try {
    const hookUrl = await receiver.start();
    const env = { ...benchEnv(infra.anvil.url, infra.databaseUrl, dataDir), WEBHOOK_ALLOW_PRIVATE: 'true' };
    const rawN = Math.min(n, 1000);
    let base: number | undefined;
    for (const k of counts) {
      // Each k on a fresh chain, raw measured on it just before (Anvil slows as its chain grows).
      await infra.resetChain();
      const r = await raw(infra.anvil.url, rawN, infra.anvil.child.pid!);
      rows.push({ instances: 0, signers: 1, n: rawN, 'ops/s': Math.round(r.rate), ...r.cpu, pipeline: '(a) raw viem, serial' });
      await infra.resetChain();
      const run = await runScale(k, n, signers, env, infra, receiver, hookUrl);
      if (k === 1) base = run.apiMsPerOp;
      const overhead = base === undefined ? null : Number((run.apiMsPerOp - base).toFixed(2));
      rows.push({
        ...run.row,
        pipeline: `(b) kagi, ${k} instance${k === 1 ? '' : 's'}`,
        'ratio b/a': Number((Number(run.row['ops/s']) / r.rate).toFixed(2)),
        'coordination overhead ms/op (total API − at 1)': overhead,
        'overhead per added instance ms/op': overhead === null || k === 1 ? null : Number((overhead / (k - 1)).toFixed(2)),
      });
    }
  } finally {
    await receiver.stop();
    await infra.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return {
    settings: {
      n,
      instances: counts,
      signers,
      inFlight: IN_FLIGHT,
      routing: 'round-robin over the instances, per request',
      anvil: 'automine, reset before each row',
      kms: 'local keyring, one DATA_DIR shared by the instances; data-key cache off',
      approvals: 'each firm: one rule (issue, minAmount 10^12, 1 approval) that no bench issue matches',
      webhooks: 'each firm: one endpoint subscribed to every transaction event, receiver in the load generator',
      api: 'node dist/src/main.js, one process per instance, LOG_LEVEL=info to /dev/null',
    },
    rows,
    notes: [
      'Every process (the instances, PostgreSQL, Anvil, the load generator and webhook receiver) shares the same cores: on a 2-core machine extra instances add no capacity; the rows show what running several costs (coordination: advisory locks skipped, receipt rounds and polls per instance, LISTEN/NOTIFY fan-out, webhook leases).',
      'CPU ms/op is read from /proc from before the first request until every transaction.confirmed delivery arrived; ops/s ends at the last row final.',
      'A coordination overhead is only meaningful against a 1-instance row of the same run.',
    ],
  };
};

export default suite;
