/**
 * The soak's load phase and drain (bench/soak.ts): `concurrency` workers send a mix of
 * planned writes (bench/soak-model.ts), idempotent replays and reads, keeping at most
 * `maxPending` accepted transactions open; a tracker finds which ones are final; a sampler
 * records every interval. Talks to the API only through the loopback-only Http client.
 */
import { cpus, loadavg } from 'node:os';
import { ledgerKey, percentile, plan, rng, type Lane, type Rng, type TokenModel } from './soak-model';
import { cpuSeconds, machineCpuSeconds, procStatus, treeCpuSeconds } from './proc';
import {
  mb,
  metric,
  Recorder,
  round,
  sleep,
  type Accepted,
  type Answer,
  type Http,
  type Json,
  type Sample,
  type Session,
  type Settings,
  type Tracked,
} from './soak-support';

export interface LoadContext {
  s: Settings;
  h: Http;
  lanes: Lane[];
  laneSession: Map<Lane, Session>;
  sessions: Session[];
  modelOf: (lane: Lane) => TokenModel;
  login: (se: Session, record?: Recorder) => Promise<void>;
  apiPid: number | undefined;
  anvilPid: number | undefined;
  postgresPid: number | undefined;
  out: (line: string) => void;
}

export async function runLoad(ctx: LoadContext) {
  const { s, h, lanes, laneSession, sessions, modelOf, login, apiPid: pid, anvilPid, postgresPid, out } = ctx;
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const rec = new Recorder(elapsed);
  const r: Rng = rng(s.seed);
  const pending = new Map<string, Tracked>();
  const recent: Accepted[] = [];
  const recentIds: string[] = [];
  let inFlightWrites = 0;
  let inFlight = 0;
  let phase: 'load' | 'drain' | 'done' = 'load';
  let keyN = 0;
  let unresolvedWrites = 0;
  const finalWaiters: Array<() => void> = [];
  const finalSeen = () => {
    for (const w of finalWaiters.splice(0)) w();
  };
  const nextFinal = (ms: number) =>
    new Promise<void>((res) => {
      const t = setTimeout(res, ms);
      finalWaiters.push(() => {
        clearTimeout(t);
        res();
      });
    });
  const counts = { accepted: new Map<string, number>(), confirmed: new Map<string, number>() };
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const confirmMsAll: number[] = [];
  const clientConfirmMsAll: number[] = [];
  let confirmedInLoad = 0;
  let acceptedInLoad = 0;

  const session = async (se: Session) => {
    // One login per refresh, however many workers notice at once.
    if (performance.now() >= se.refreshAt) await (se.refreshing ??= login(se, rec).finally(() => (se.refreshing = undefined)));
    return se.token;
  };
  const classify = (a: Answer): 'transport' | '5xx' | 'unexpected-status' =>
    !a.ok ? 'transport' : a.status >= 500 ? '5xx' : 'unexpected-status';

  const write = async (lane: Lane, se: Session): Promise<void> => {
    const model = modelOf(lane);
    const p = plan(model, lane, r);
    if (!p) return;
    const key = `soak-${s.seed}-${++keyN}`;
    const path = `/v1/tokens/${lane.tokenId}/${p.kind}`;
    const route = `POST ${p.label}`;
    inFlightWrites++;
    try {
      // A real client retries with the same key after a transport error; 409 IN_USE means "still being accepted".
      for (let attempt = 1; ; attempt++) {
        const a = await h.call('POST', path, { token: await session(se), body: p.body, headers: { 'idempotency-key': key } });
        if (a.ok && attempt > 1 && a.status === 409 && a.body.code === 'IDEMPOTENCY_KEY_IN_USE') {
          rec.request(`${route} (retry)`, a, 'write', 'expected');
          await sleep(500 * attempt);
          continue;
        }
        if (!a.ok || a.status >= 500) {
          rec.request(route, a, 'write', classify(a));
          if (attempt < 5) {
            await sleep(500 * attempt);
            continue;
          }
          // Unknown whether it was accepted: the model keeps it pending for good (safe, but no longer exact).
          unresolvedWrites++;
          rec.error('unresolved-write', route, `no answer after ${attempt} attempts with key ${key}`);
          return;
        }
        const acceptedNow = a.status === 202 && typeof a.body.id === 'string';
        if (p.expect.status === 202) {
          if (acceptedNow) rec.request(route, a, 'write', 'ok');
          else {
            rec.request(route, a, 'write', 'unexpected-status');
            model.release(p.effects);
            return;
          }
        } else {
          const want = p.expect;
          if (a.status === want.status && a.body.code === want.code) {
            rec.request(route, a, 'write', 'expected');
            return;
          }
          rec.request(route, a, 'write', acceptedNow ? 'accepted-refusal' : 'unexpected-status');
          if (!acceptedNow) return;
          // Accepted although impossible: follow it so the model stays true to the chain.
          model.reserve(p.effects);
        }
        const id = a.body.id as string;
        pending.set(id, {
          id,
          lane,
          model,
          plan: p,
          session: se,
          key,
          acceptedAt: performance.now(),
          createdAt: String(a.body.createdAt),
          unexpected: p.expect.status !== 202,
        });
        rec.iv.accepted++;
        if (phase === 'load') acceptedInLoad++;
        bump(counts.accepted, p.label);
        recentIds.push(id);
        if (recentIds.length > 200) recentIds.shift();
        recent.push({ session: se, path, body: p.body, key, id });
        if (recent.length > 50) recent.shift();
        return;
      }
    } finally {
      inFlightWrites--;
    }
  };

  const replay = async (): Promise<void> => {
    const x = recent[Math.floor(r() * recent.length)];
    if (!x) return;
    const token = await session(x.session);
    if (r() < 0.7 || x.body.amount === undefined) {
      const a = await h.call('POST', x.path, { token, body: x.body, headers: { 'idempotency-key': x.key } });
      const same = a.ok && a.status === 202 && a.body.id === x.id;
      rec.request(
        'POST replay (same key, same body)',
        a,
        'write',
        same
          ? 'ok'
          : a.ok && a.status < 500 && a.status !== 202
            ? 'unexpected-status'
            : a.ok && a.status === 202
              ? 'replay-mismatch'
              : classify(a),
      );
    } else {
      const body = { ...x.body, amount: (BigInt(x.body.amount) + 1n).toString() };
      const a = await h.call('POST', x.path, { token, body, headers: { 'idempotency-key': x.key } });
      const refused = a.ok && a.status === 422 && a.body.code === 'IDEMPOTENCY_KEY_REUSED';
      rec.request(
        'POST replay (same key, other body)',
        a,
        'write',
        refused ? 'expected' : a.ok && a.status === 202 ? 'replay-mismatch' : classify(a),
      );
    }
  };

  const read = async (lane: Lane, se: Session): Promise<void> => {
    const model = modelOf(lane);
    const token = await session(se);
    const x = r();
    if (x < 0.4) {
      const u = lane.users[Math.floor(r() * lane.users.length)]!;
      const holder = model.holder(u.address);
      const ledger = model.ledgerOf(ledgerKey(lane.operatorId, u.id));
      const wh = model.watch(holder);
      const wl = model.watch(ledger);
      const a = await h.call('GET', `/v1/tokens/${lane.tokenId}/balances/${u.id}`, { token });
      model.unwatch(holder, wh);
      model.unwatch(ledger, wl);
      if (!a.ok || a.status !== 200) return rec.request('GET balance', a, 'read', classify(a));
      const bal = BigInt(a.body.balance as string);
      const cust = BigInt(a.body.custodyBalance as string);
      const inside = bal >= wh.lo && bal <= wh.hi && cust >= wl.lo && cust <= wl.hi;
      rec.request(
        'GET balance',
        a,
        'read',
        inside ? 'ok' : 'read-out-of-bounds',
        inside ? '' : `balance ${bal} ∉ [${wh.lo}, ${wh.hi}] or custody ${cust} ∉ [${wl.lo}, ${wl.hi}] (${lane.name}, user ${u.id})`,
      );
    } else if (x < 0.55) {
      const w = model.watch(model.supply);
      const a = await h.call('GET', `/v1/tokens/${lane.tokenId}`, { token });
      model.unwatch(model.supply, w);
      if (!a.ok || a.status !== 200) return rec.request('GET token', a, 'read', classify(a));
      const supply = BigInt(a.body.totalSupply as string);
      const inside = supply >= w.lo && supply <= w.hi;
      rec.request(
        'GET token',
        a,
        'read',
        inside ? 'ok' : 'read-out-of-bounds',
        inside ? '' : `totalSupply ${supply} ∉ [${w.lo}, ${w.hi}] (${lane.name})`,
      );
    } else if (x < 0.7) {
      const a = await h.call('GET', `/v1/tokens/${lane.tokenId}/holders`, { token });
      const mine = new Set(lane.users.map((u) => u.id));
      const items = a.ok && Array.isArray(a.body.items) ? (a.body.items as Array<{ userId: string }>) : [];
      const good = a.ok && a.status === 200 && items.every((i) => mine.has(i.userId));
      rec.request(
        'GET holders',
        a,
        'read',
        good ? 'ok' : a.ok && a.status === 200 ? 'read-out-of-bounds' : classify(a),
        good ? '' : `holders of ${lane.name} include another operator's user`,
      );
    } else if (x < 0.9) {
      const id = recentIds[Math.floor(r() * recentIds.length)];
      if (!id) return;
      const owner = [...pending.values()].find((t) => t.id === id)?.session ?? recent.find((t) => t.id === id)?.session;
      if (!owner) return;
      const a = await h.call('GET', `/v1/transactions/${id}`, { token: await session(owner) });
      rec.request('GET transaction', a, 'read', a.ok && a.status === 200 && a.body.id === id ? 'ok' : classify(a));
    } else {
      const u = lane.users[Math.floor(r() * lane.users.length)]!;
      const a = await h.call('GET', `/v1/transactions?tokenId=${lane.tokenId}&userId=${u.id}&limit=20`, { token });
      rec.request(
        'GET transactions?tokenId&userId',
        a,
        'read',
        a.ok && a.status === 200 && Array.isArray(a.body.items) ? 'ok' : classify(a),
      );
    }
  };

  const worker = async () => {
    while (phase === 'load') {
      const lane = lanes[Math.floor(r() * lanes.length)]!;
      const se = laneSession.get(lane)!;
      const x = r();
      inFlight++;
      try {
        if (x < s.readShare) await read(lane, se);
        else if (x < s.readShare + s.replayShare) await replay();
        else if (pending.size + inFlightWrites >= s.maxPending) {
          // Backlog full: wait for a transaction to become final instead of piling up.
          inFlight--;
          await nextFinal(250);
          inFlight++;
        } else await write(lane, se);
      } finally {
        inFlight--;
      }
    }
  };

  // Tracker: which accepted transactions are final? Per operator, in parallel: its open
  // ones (queued, then submitted), then its confirmed and failed ones created since the
  // oldest tracked one that is in neither open list.
  const finalize = (t: Tracked, tx: Json) => {
    pending.delete(t.id);
    const status = tx.status as string;
    if (status === 'confirmed') {
      t.model.confirm(t.plan.effects);
      const server = Date.parse(tx.updatedAt as string) - Date.parse(tx.createdAt as string);
      rec.iv.confirmed++;
      rec.iv.confirmMs.push(server);
      confirmMsAll.push(server);
      clientConfirmMsAll.push(performance.now() - t.acceptedAt);
      if (phase === 'load') confirmedInLoad++;
      bump(counts.confirmed, t.plan.label);
    } else {
      t.model.release(t.plan.effects);
      rec.iv.failed++;
      const err = tx.error as { code?: string; message?: string } | null;
      if (!t.unexpected)
        rec.error(
          status === 'cancelled' ? 'tx-cancelled' : 'tx-failed',
          `${t.plan.label} ${t.lane.name}`,
          `${t.id}: ${status} ${err?.code ?? ''} ${(err?.message ?? '').slice(0, 200)}`,
        );
    }
    finalSeen();
  };
  const list = async (se: Session, query: string, into: (items: Json[]) => void): Promise<boolean> => {
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const a = await h.call('GET', `/v1/transactions?${query}&limit=100${cursor ? `&cursor=${cursor}` : ''}`, {
        token: await session(se),
      });
      const good = a.ok && a.status === 200 && Array.isArray(a.body.items);
      rec.request('GET transactions?status (tracker)', a, 'read', good ? 'ok' : classify(a));
      if (!good) return false;
      into(a.body.items as Json[]);
      cursor = (a.body.nextCursor as string | null) ?? undefined;
      if (!cursor) return true;
    }
    return true;
  };
  const trackOperator = async (se: Session, started: number) => {
    const mine = [...pending.values()].filter((t) => t.session === se && t.acceptedAt < started);
    if (!mine.length) return;
    const open = new Set<string>();
    for (const status of ['queued', 'submitted'])
      if (!(await list(se, `status=${status}`, (items) => items.forEach((i) => open.add(i.id as string))))) return;
    const candidates = mine.filter((t) => !open.has(t.id));
    if (!candidates.length) return;
    // The final ones come from a page or two of lists, not one read per transaction.
    const from = candidates.reduce((m, t) => (t.createdAt < m ? t.createdAt : m), candidates[0]!.createdAt);
    const final = new Map<string, Json>();
    for (const status of ['confirmed', 'failed'])
      if (
        !(await list(se, `status=${status}&from=${encodeURIComponent(from)}`, (items) =>
          items.forEach((i) => final.set(i.id as string, i)),
        ))
      )
        return;
    for (const t of candidates) {
      const tx = final.get(t.id);
      if (tx) {
        finalize(t, tx);
        continue;
      }
      // In no list (it moved between two of them, or was cancelled): read it.
      const a = await h.call('GET', `/v1/transactions/${t.id}`, { token: await session(se) });
      const good = a.ok && a.status === 200;
      rec.request('GET transaction (tracker)', a, 'read', good ? 'ok' : classify(a));
      if (good && ['confirmed', 'failed', 'cancelled'].includes(a.body.status as string)) finalize(t, a.body);
    }
  };
  const track = async () => {
    while (phase !== 'done') {
      const started = performance.now();
      await Promise.all(sessions.map((se) => trackOperator(se, started)));
      await sleep(Math.max(50, 500 - (performance.now() - started)));
    }
  };

  // Sampler.
  const samples: Sample[] = [];
  let lastAt = performance.now();
  const cpuNow = () => ({
    api: cpuSeconds(pid),
    pg: treeCpuSeconds(postgresPid),
    anvil: cpuSeconds(anvilPid),
    soak: process.cpuUsage(),
    machine: machineCpuSeconds(),
  });
  let lastCpu = cpuNow();
  const sample = async (ph: 'load' | 'drain') => {
    const now = performance.now();
    const dt = (now - lastAt) / 1000;
    lastAt = now;
    const iv = rec.iv;
    rec.iv = Recorder.fresh();
    const ps = procStatus(pid);
    const cpu = cpuNow();
    const pct = (a: number | undefined, b: number | undefined) =>
      a !== undefined && b !== undefined && dt >= 0.5 ? round(((a - b) / dt) * 100, 0) : null;
    const m = await h.call('GET', '/metrics', { timeoutMs: 10_000 });
    const metricsText = m.ok && m.status === 200 ? m.text : '';
    const heapUsed = metric(metricsText, 'kagi_nodejs_heap_size_used_bytes');
    const heapTotal = metric(metricsText, 'kagi_nodejs_heap_size_total_bytes');
    const mrss = metric(metricsText, 'kagi_process_resident_memory_bytes');
    const lag = metric(metricsText, 'kagi_nodejs_eventloop_lag_p99_seconds');
    const anvilRss = procStatus(anvilPid);
    const nz = (xs: number[], p: number) => (xs.length ? Math.round(percentile(xs, p)) : null);
    const x: Sample = {
      t: Math.round(elapsed() * 10) / 10,
      phase: ph,
      opsPerSec: round(iv.confirmed / dt, 1)!,
      acceptedPerSec: round(iv.accepted / dt, 1)!,
      requestsPerSec: round(iv.requests / dt, 1)!,
      errors: iv.errors,
      errorRate: iv.requests ? round(iv.errors / iv.requests, 5)! : 0,
      expectedRefusals: iv.expectedRefusals,
      failed: iv.failed,
      confirmP50Ms: nz(iv.confirmMs, 50),
      confirmP90Ms: nz(iv.confirmMs, 90),
      confirmP99Ms: nz(iv.confirmMs, 99),
      writeP50Ms: nz(iv.writeMs, 50),
      writeP99Ms: nz(iv.writeMs, 99),
      readP99Ms: nz(iv.readMs, 99),
      backlog: pending.size,
      inFlight,
      rssMB: ps ? mb(ps.rss) : NaN,
      hwmMB: ps ? mb(ps.hwm) : NaN,
      heapUsedMB: heapUsed === null ? null : mb(heapUsed),
      heapTotalMB: heapTotal === null ? null : mb(heapTotal),
      metricsRssMB: mrss === null ? null : mb(mrss),
      eventLoopLagP99Ms: lag === null ? null : round(lag * 1000, 1),
      apiCpuPercent: pct(cpu.api, lastCpu.api),
      postgresCpuPercent: pct(cpu.pg, lastCpu.pg),
      anvilCpuPercent: pct(cpu.anvil, lastCpu.anvil),
      soakCpuPercent: pct((cpu.soak.user + cpu.soak.system) / 1e6, (lastCpu.soak.user + lastCpu.soak.system) / 1e6),
      machineCpuPercent:
        dt < 0.5
          ? null
          : round(((cpu.machine.busy - lastCpu.machine.busy) / (cpu.machine.total - lastCpu.machine.total)) * cpus().length * 100, 0),
      anvilRssMB: anvilRss ? mb(anvilRss.rss) : null,
      load1: round(loadavg()[0] ?? 0, 2)!,
    };
    lastCpu = cpu;
    samples.push(x);
    const f = (v: number | null, w: number) => String(v ?? '-').padStart(w);
    out(
      `${f(x.t, 6)} ${x.phase.padEnd(5)} ${f(x.opsPerSec, 7)} ${f(x.acceptedPerSec, 7)} ${f(x.requestsPerSec, 7)} ${f(x.errors, 5)} ${(x.errorRate * 100).toFixed(2).padStart(6)} ${f(x.confirmP50Ms, 7)} ${f(x.confirmP99Ms, 7)} ${f(x.writeP99Ms, 7)} ${f(x.backlog, 7)} ${f(x.rssMB, 7)} ${f(x.heapUsedMB, 7)} ${f(x.apiCpuPercent, 5)} ${f(x.postgresCpuPercent, 5)} ${f(x.anvilCpuPercent, 5)} ${f(x.soakCpuPercent, 5)} ${f(x.machineCpuPercent, 5)}`,
    );
  };

  out(
    `${'t s'.padStart(6)} phase ${'ops/s'.padStart(7)} ${'acc/s'.padStart(7)} ${'req/s'.padStart(7)} ${'err'.padStart(5)} ${'err%'.padStart(6)} ${'p50c ms'.padStart(7)} ${'p99c ms'.padStart(7)} ${'p99w ms'.padStart(7)} ${'backlog'.padStart(7)} ${'RSS MB'.padStart(7)} ${'heap MB'.padStart(7)} ${'api%'.padStart(5)} ${'pg%'.padStart(5)} ${'anv%'.padStart(5)} ${'gen%'.padStart(5)} ${'all%'.padStart(5)}`,
  );
  out(
    '  (ops/s = confirmed/s; p50c/p99c = accepted→confirmed; p99w = write request; CPU % of one core: API, PostgreSQL, Anvil, this load generator, and the whole machine incl. others, of 200)',
  );
  await sample('load');
  const rssStart = samples[0]!.rssMB;
  const heapStart = samples[0]!.heapUsedMB;

  const loadMs = s.minutes * 60_000;
  const tracker = track();
  const workers = Array.from({ length: s.concurrency }, () => worker());
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await sleep(s.intervalSeconds * 1000 - ((performance.now() - t0) % (s.intervalSeconds * 1000)));
      if (!sampling) break;
      await sample(phase === 'load' ? 'load' : 'drain');
    }
  })();
  await sleep(loadMs);
  phase = 'drain';
  const loadSeconds = elapsed();
  await Promise.all(workers);
  const drainStart = performance.now();
  while (pending.size > 0 && performance.now() - drainStart < s.drainTimeoutSeconds * 1000) await nextFinal(500);
  const drained = pending.size === 0;
  const drainSeconds = (performance.now() - drainStart) / 1000;
  for (const t of pending.values())
    rec.error('tx-not-final', `${t.plan.label} ${t.lane.name}`, `${t.id} still open after a ${s.drainTimeoutSeconds} s drain`);
  sampling = false;
  await sample('drain');
  phase = 'done';
  await tracker;
  await sampler;
  const totalSeconds = elapsed();

  return {
    rec,
    samples,
    counts,
    confirmMsAll,
    clientConfirmMsAll,
    confirmedInLoad,
    acceptedInLoad,
    loadSeconds,
    drainSeconds,
    totalSeconds,
    drained,
    unresolvedWrites,
    rssStart,
    heapStart,
    session,
  };
}
