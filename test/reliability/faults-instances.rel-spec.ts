/**
 * Fault: one of three API instances (same PostgreSQL, same chain, same KMS) is killed with
 * SIGKILL under a steady mixed load spread over all three; the clients go on with the other
 * two, as behind a load balancer: a request the dead instance did not answer is sent again,
 * with its Idempotency-Key, to another instance (issue 21, item 3). Four firms, each its own
 * signer, with approvals on (a policy none of the workload matches) and events on (one
 * webhook endpoint each, to a receiver in this process), so every instance works for every
 * signer and holds some of the webhook leases.
 *
 * Asserted, after each kill: every accepted operation is on chain exactly once and nothing is
 * stuck (the shared verifier: independent viem reads of supply, balances, custody, freeze
 * state, the token's events, the signer's nonce count; one transaction per key; every row
 * final), and every confirmation reached the webhook receiver at least once.
 *
 * MEASURED and printed (the takeover): from the kill to the first confirmation of a
 * transaction the dead instance had signed and not seen final, until all of them are final,
 * and until every row queued or submitted at the kill is final (its signers' queues drained
 * of what it could have held), while the load goes on; and for the events, until every
 * confirmation was delivered. Which instance signed a row is no API's business: the file
 * adds a trigger to the test database that records the signing connection's
 * application_name (each instance's DATABASE_URL names it), for attribution only.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { createPublicClient, http as viemHttp } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/processes';
import { TRANSACTION_EVENT_TYPES } from '../../src/webhooks/webhook-events';
import { ApiProcess, build } from './support/api-process';
import { Http, Recorder, sleep } from './support/client';
import { createFixture, type Fixture } from './support/fixture';
import { baseSeed, mix32, profile } from './support/profile';
import { logFindings, summary, timeline } from './support/report';
import { apiEnv, startStack, type Stack } from './support/stack';
import { listTransactions, verify, type Tx } from './support/verify';
import { makeOp, type Accepted, type Op } from './support/workload';

const root = process.cwd();
const prof = profile();
const seed = baseSeed();
const INSTANCES = 3;
const FIRMS = 4;
/** Kills (each of a different instance, restarted before the next): one in quick, three in full. */
const RUNS = prof.name === 'quick' ? 1 : 3;
/** Load kept on the two survivors after the kill (ms): longer than every takeover timer of the pipeline. */
const AFTER_KILL_MS = prof.name === 'quick' ? 12_000 : 20_000;
/**
 * The bound asserted on the takeover (kill → every row the dead instance signed is final). The
 * pipeline's own timers set what to expect: a row sent by another instance is asked for after
 * SENT_ELSEWHERE_MS (2 s), one the node never got is sent again after REBROADCAST_AFTER_MS
 * (5 s); the bound leaves room for a loaded 2-core machine.
 */
const TAKEOVER_WITHIN_MS = 30_000;
const CONFIRMATIONS_DELIVERED_WITHIN_MS = 120_000;

/** The webhook receiver: first arrival time of each transaction's `transaction.confirmed`. */
class Receiver {
  readonly confirmedAt = new Map<string, number>();
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          const e = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type?: string; data?: { id?: string } };
          if (e.type === 'transaction.confirmed' && e.data?.id && !this.confirmedAt.has(e.data.id))
            this.confirmedAt.set(e.data.id, Date.now());
        } catch {
          /* not an event */
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

interface Instance {
  name: string;
  api: ApiProcess;
  http: Http;
  rec: Recorder;
}

/** Test-side attribution only (see the header): who signed each row, by connection application_name. */
const ATTRIBUTION_SQL = `
  CREATE TABLE IF NOT EXISTS rel_signed_by (id uuid NOT NULL, app text NOT NULL, nonce int, at timestamptz NOT NULL);
  CREATE OR REPLACE FUNCTION rel_signed_by_fn() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO rel_signed_by VALUES (NEW.id, current_setting('application_name'), NEW.nonce, clock_timestamp()); RETURN NULL; END $$;
  DROP TRIGGER IF EXISTS rel_signed_by ON transactions;
  CREATE TRIGGER rel_signed_by AFTER UPDATE OF status ON transactions FOR EACH ROW
    WHEN (NEW.status = 'submitted' AND OLD.status IS DISTINCT FROM 'submitted') EXECUTE FUNCTION rel_signed_by_fn();`;

describe('fault: kill -9 of one of three API instances under load', () => {
  let stack: Stack;
  const instances: Instance[] = [];
  const fixtures: Fixture[] = [];
  const receiver = new Receiver();
  let db: Client;
  const startedAt = Date.now();

  beforeAll(async () => {
    console.log(`[faults] instances: profile=${prof.name} seed=${seed} runs=${RUNS} (replay with KAGI_RELIABILITY_SEED=${seed})`);
    build(root);
    stack = await startStack(root);
    const hookUrl = await receiver.start();
    // One after the other: the first runs the migrations.
    for (let i = 1; i <= INSTANCES; i++) {
      const name = `kagi-rel-api-${i}`;
      const env = apiEnv(stack, await freePort(), {
        DATABASE_URL: `${stack.pg.databaseUrl}?application_name=${name}`,
        WEBHOOK_ALLOW_PRIVATE: 'true',
      });
      const api = new ApiProcess(root, env);
      await api.start();
      // A dead instance answers nothing (allowed only once it is killed); a live one never answers 5xx here.
      const rec = new Recorder(new Set());
      instances.push({ name, api, http: new Http(api.url, rec), rec });
    }
    db = new Client({ connectionString: stack.pg.databaseUrl });
    await db.connect();
    await db.query(ATTRIBUTION_SQL);
    for (let f = 0; f < FIRMS; f++) {
      // Set-up spread over the instances too.
      const { http } = instances[f % INSTANCES]!;
      const fx = await createFixture(http, stack, { tag: `in${seed}f${f}`, holders: 3 }).catch((e: unknown) => {
        const state = instances.map((i) => `${i.name} ${i.api.alive ? 'alive' : 'dead'}: ${i.api.tail(3)}`).join('\n');
        throw new Error(`${e instanceof Error ? e.message : String(e)}\n${state}`);
      });
      const policy = await http.call('PUT', `/v1/operators/${fx.operator.id}/policy`, {
        token: fx.operator.token,
        body: { rules: [{ kinds: ['forced-transfer'], minAmount: '1000000000', approvals: 1 }] },
      });
      if (policy.status !== 200) throw new Error(`PUT policy: ${policy.status} ${policy.text}`);
      const hook = await http.call('POST', '/v1/webhooks', {
        token: fx.operator.token,
        body: { url: hookUrl, events: [...TRANSACTION_EVENT_TYPES] },
      });
      if (hook.status !== 201) throw new Error(`POST /v1/webhooks: ${hook.status} ${hook.text}`);
      fx.secrets.push(Buffer.from(String(hook.body.secret)));
      fixtures.push(fx);
    }
  });
  afterAll(async () => {
    await db?.end();
    for (const i of instances) await i.api.destroy();
    await receiver.stop();
    await stack?.destroy();
  });

  /** Sends `op` to the live instances in turn until one accepts it, as a client behind a load balancer would. */
  async function submitAnywhere(fx: Fixture, op: Op, start: number, deadline: number): Promise<Accepted & { via: string[] }> {
    const via: string[] = [];
    for (let attempt = 0; ; attempt++) {
      const live = instances.filter((i) => i.api.alive);
      const inst = live[(start + attempt) % live.length]!;
      via.push(inst.name);
      const a = await inst.http.call('POST', `/v1/tokens/${fx.token.id}/${op.kind}`, {
        token: fx.operator.token,
        body: op.body,
        headers: { 'idempotency-key': op.key },
      });
      if (a.status === 202 || a.status === 200)
        return { op, txId: a.body.id as string, status: a.status, phase: 'steady', acceptedAt: Date.now(), attempts: attempt + 1, via };
      const retry = a.status === 0 || a.status >= 500 || (a.status === 409 && a.body?.code === 'IDEMPOTENCY_KEY_IN_USE');
      if (!retry) throw new Error(`${op.kind} ${op.key} refused by ${inst.name}: ${a.status} ${a.text.slice(0, 300)}`);
      if (Date.now() > deadline)
        throw new Error(`${op.kind} ${op.key} not accepted before the deadline; last ${a.status} ${a.error ?? ''}`);
      if (a.status !== 0) await sleep(a.status === 409 ? 500 : 250);
    }
  }

  it(`every accepted operation lands exactly once after ${RUNS} kill(s) of one instance; the takeover is measured`, async () => {
    const step = timeline('instances');
    const findings: string[] = [];
    const accepted = fixtures.map(() => [] as Array<Accepted & { via: string[] }>);
    const measured: string[] = [];
    let survived = 0;
    const chain = createPublicClient({ transport: viemHttp(stack.chain.url, { timeout: 10_000 }) });
    for (let run = 1; run <= RUNS; run++) {
      const victim = instances[(run - 1) % INSTANCES]!;
      const runSeed = mix32(seed, run);
      const before = accepted.map((a) => a.length);
      // The load: `concurrency` clients at up to opsPerSecond together, over the firms and the instances in turn.
      let stopping = false;
      let n = 0;
      const errors: string[] = [];
      const interval = (prof.concurrency * 1000) / prof.opsPerSecond;
      const workers = Array.from({ length: prof.concurrency }, async () => {
        while (!stopping) {
          const t0 = Date.now();
          const i = n++;
          const f = i % FIRMS;
          const fx = fixtures[f]!;
          const op = makeOp(mix32(runSeed, f), Math.floor(i / FIRMS), fx, `in-r${run}-f${f}`);
          try {
            accepted[f]!.push(await submitAnywhere(fx, op, i, Date.now() + 120_000));
          } catch (e) {
            errors.push(e instanceof Error ? e.message : String(e));
            return;
          }
          const wait = interval - (Date.now() - t0);
          if (wait > 0 && !stopping) await sleep(wait);
        }
      });
      await sleep(prof.baselineMs);
      // The kill lands just after the victim committed a signing round (its rows may not all be sent yet).
      const [{ last }] = (await db.query<{ last: number }>(`SELECT count(*)::int AS last FROM rel_signed_by WHERE app = $1`, [victim.name]))
        .rows as [{ last: number }];
      const waitUntil = Date.now() + 30_000;
      for (;;) {
        const { rows } = await db.query<{ c: number }>(`SELECT count(*)::int AS c FROM rel_signed_by WHERE app = $1`, [victim.name]);
        if ((rows[0]?.c ?? 0) > last || Date.now() > waitUntil) break;
        await sleep(5);
      }
      victim.rec.phase = 'api-down';
      const killAt = Date.now();
      await victim.api.kill9();
      // The firms' rows in flight at the kill (read at once; nothing is final sooner than a receipt round).
      // Platform rows (audit anchors, gas funding) are not the workload's and not listed by the firms.
      const { rows: open } = await db.query<{ id: string; status: string; tx_hash: `0x${string}` | null; app: string | null }>(
        `SELECT t.id, t.status, t.tx_hash, (SELECT s.app FROM rel_signed_by s WHERE s.id = t.id ORDER BY s.at DESC LIMIT 1) AS app
           FROM transactions t WHERE t.status IN ('queued', 'submitted') AND t.operator_id = ANY($1)`,
        [fixtures.map((f) => f.operator.id)],
      );
      const orphans = open.filter((o) => o.status === 'submitted' && o.app === victim.name);
      const known = await Promise.all(
        orphans.map((o) =>
          chain.getTransaction({ hash: o.tx_hash! }).then(
            () => true,
            () => false,
          ),
        ),
      );
      const unsent = new Set(orphans.filter((_, i) => !known[i]).map((o) => o.id));
      step(
        `run ${run}: killed ${victim.name} after ${n} operations sent; at the kill ${open.length} rows open, ${orphans.length} signed by it and not final (${unsent.size} of them never reached the node)`,
      );
      await sleep(AFTER_KILL_MS);
      stopping = true;
      await Promise.all(workers);
      findings.push(...errors.map((e) => `run ${run}: ${e}`));
      const survivor = instances.find((i) => i.api.alive)!;
      let runOk = true;
      for (const [f, fx] of fixtures.entries()) {
        const v = await verify(survivor.http, stack, fx, accepted[f]!, { finalWithinMs: 120_000 });
        if (v.findings.length) runOk = false;
        findings.push(...v.findings.map((x) => `run ${run} firm ${f}: ${x}`));
      }
      if (runOk) survived++;
      // The takeover, from the rows' own updatedAt (public API): when each became final.
      const txs = new Map<string, Tx>();
      for (const fx of fixtures) for (const t of await listTransactions(survivor.http, fx.operator.token)) txs.set(t.id, t);
      const finalAfter = (ids: string[]) =>
        ids.map((id) => txs.get(id)).map((t) => (t ? Date.parse((t as Tx & { updatedAt: string }).updatedAt) - killAt : NaN));
      const orphanMs = finalAfter(orphans.map((o) => o.id));
      const unsentMs = finalAfter([...unsent]);
      const openMs = finalAfter(open.map((o) => o.id));
      const max = (xs: number[]) => (xs.length ? Math.max(...xs) : null);
      const min = (xs: number[]) => (xs.length ? Math.min(...xs) : null);
      if (orphanMs.some((x) => Number.isNaN(x))) findings.push(`run ${run}: a row the dead instance signed is missing from the listing`);
      const allOrphans = max(orphanMs);
      if (allOrphans !== null && allOrphans > TAKEOVER_WITHIN_MS)
        findings.push(
          `run ${run}: the rows ${victim.name} signed were final only ${allOrphans} ms after the kill (bound ${TAKEOVER_WITHIN_MS})`,
        );
      // Requests the dead instance left unanswered, accepted again elsewhere.
      const rerouted = accepted
        .flat()
        .filter((a) => a.via.length > 1 && a.via.slice(0, -1).includes(victim.name) && a.acceptedAt >= killAt);
      // Events: every confirmed operation accepted in this run has its `transaction.confirmed` delivered.
      const confirmedIds = accepted
        .flatMap((a, f) => a.slice(before[f]))
        .map((a) => a.txId)
        .filter((id) => txs.get(id)?.status === 'confirmed');
      const deadline = Date.now() + CONFIRMATIONS_DELIVERED_WITHIN_MS;
      while (confirmedIds.some((id) => !receiver.confirmedAt.has(id)) && Date.now() < deadline) await sleep(200);
      const undelivered = confirmedIds.filter((id) => !receiver.confirmedAt.has(id));
      if (undelivered.length) findings.push(`run ${run}: ${undelivered.length} confirmations never delivered to the webhook receiver`);
      // Confirmation → delivery, for what was confirmed before and after the kill (a lease the dead instance held shows here).
      const lag = (after: boolean) =>
        max(
          confirmedIds
            .map((id) => ({
              confirmed: Date.parse((txs.get(id) as Tx & { updatedAt: string }).updatedAt),
              delivered: receiver.confirmedAt.get(id),
            }))
            .filter((x) => x.delivered !== undefined && x.confirmed >= killAt === after)
            .map((x) => x.delivered! - x.confirmed),
        );
      const line =
        `run ${run} (${victim.name} killed): signed by it and open at the kill ${orphans.length} (${unsent.size} never sent); ` +
        `first of them confirmed +${min(orphanMs) ?? '-'} ms, all final +${allOrphans ?? '-'} ms` +
        (unsent.size ? ` (never-sent ones: first +${min(unsentMs)} ms, all +${max(unsentMs)} ms)` : '') +
        `; every row open at the kill (${open.length}) final +${max(openMs) ?? '-'} ms; ` +
        `${rerouted.length} requests re-sent to a survivor, the last accepted +${max(rerouted.map((a) => a.acceptedAt - killAt)) ?? '-'} ms; ` +
        `webhook confirmation → delivery at most ${lag(false) ?? '-'} ms before the kill, ${lag(true) ?? '-'} ms after it`;
      measured.push(line);
      step(line);
      // The dead instance comes back (restart) before the next kill, which takes another one.
      if (run < RUNS) {
        const ms = await victim.api.start();
        victim.rec.phase = 'steady';
        step(`${victim.name} restarted, ready in ${ms} ms`);
      }
      if (findings.length > 50) break;
    }
    const secrets = fixtures.flatMap((f) => f.secrets);
    for (const i of instances) findings.push(...logFindings(i.api, i.rec, secrets), ...i.rec.violations.map((v) => `${i.name}: ${v}`));
    for (const m of measured) console.log(`[faults] instances takeover: ${m}`);
    // One recorder's summary for the whole fleet (the README row counts every instance's answers).
    const fleet = new Recorder(new Set());
    for (const i of instances) {
      fleet.requests += i.rec.requests;
      fleet.networkErrors += i.rec.networkErrors;
      for (const [k, v] of i.rec.byStatus) fleet.byStatus.set(k, (fleet.byStatus.get(k) ?? 0) + v);
      for (const [k, v] of i.rec.unavailable) fleet.unavailable.set(k, (fleet.unavailable.get(k) ?? 0) + v);
    }
    summary('instances', {
      profile: prof.name,
      seed,
      faults: RUNS,
      survived,
      rec: fleet,
      accepted: accepted.flat().length,
      startedAt,
    });
    expect(findings).toEqual([]);
  });
});
