/**
 * The verifiable audit trail, black-box: events are chained per firm and for the platform
 * with gapless seq; every hash is recomputed here independently (the `canonicalize` package for
 * RFC 8785 JCS and node:crypto SHA-256, not kagi's own hashing module); anchors are read back
 * from Anvil with a viem client of the test's own; tampering as the database superuser (triggers
 * off through session_replication_role) is found by `verify`; an export verifies offline with
 * the CLI, with and without --rpc. Also: per-reader notification read state.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import { Client } from 'pg';
import { createPublicClient, http as viemHttp, type Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NotificationsService } from '../../src/notifications/notifications.service';
import { createTestApp, http, testEnv, type TestApp } from '../support/app';
import { adminToken, createOperator, type OperatorFixture } from '../support/api';
import { freshDatabase } from '../support/db';
import { recordChild } from '../support/recording';

const root = process.cwd();
const GENESIS = '0'.repeat(64);
/** The anchorer's advisory lock ('kagi', 'anc'), held by the test to keep it out while rows are forged. */
const ANCHOR_LOCK = [0x6b616769, 0x616e63];
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** The contract's rule, written here from the contract text: hex(SHA-256(prevHash + "\n" + JCS(event))). */
function hashOf(line: Record<string, unknown>): string {
  const { seq, prevHash, chain, id, at, actor, action, subject, outcome, details, requestId } = line;
  return sha256(
    `${prevHash as string}\n${canonicalize({ seq, prevHash, chain, id, at, actor, action, subject, outcome, details, requestId })!}`,
  );
}

function parseExport(text: string): { events: any[]; anchors: any[] } {
  const lines = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  return { events: lines.filter((l) => !('anchor' in l)), anchors: lines.filter((l) => 'anchor' in l).map((l) => l.anchor) };
}

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [join(root, 'dist', 'src', 'cli', 'main.js'), ...args], {
      cwd: root,
      env: {
        ...process.env,
        ...testEnv({ LOG_LEVEL: 'error', ...env }),
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    recordChild(child, ['cli', ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

describe('audit chains, anchors and verification', () => {
  let t: TestApp;
  let db: string;
  let su: Client;
  let admin: string;
  let a: OperatorFixture;
  let b: OperatorFixture;
  const chainClient = createPublicClient({ transport: viemHttp(inject('rpcUrl')) });

  /** As the database superuser, with every trigger (append-only, foreign keys) switched off for this session. */
  const tamper = async (sql: string, params: unknown[] = []) => {
    await su.query('SET session_replication_role = replica');
    try {
      return await su.query(sql, params);
    } finally {
      await su.query('SET session_replication_role = DEFAULT');
    }
  };

  const unchained = async () =>
    Number(
      (await su.query('SELECT count(*) AS n FROM audit_events e WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id)'))
        .rows[0].n,
    );

  /** Read as text: the test helper would try to parse NDJSON as one JSON document. */
  const exportOf = async (token: string, chain?: string) => {
    const r = await fetch(`${t.url}/v1/audit-events/export${chain ? `?chain=${chain}` : ''}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const text = await r.text();
    expect(r.status, text).toBe(200);
    expect(r.headers.get('content-type')).toContain('application/x-ndjson');
    return { text, ...parseExport(text) };
  };

  const verifyAll = async () => {
    const r = await http(t.url, 'GET', '/v1/audit-events/verify', { token: admin });
    expect(r.status, r.text).toBe(200);
    return r.body as {
      ok: boolean;
      chains: Array<{
        chain: string;
        events: number;
        headHash: string;
        firstBrokenSeq: number | null;
        lastAnchoredSeq: number | null;
        problems: any[];
      }>;
    };
  };

  /** Waits until every committed event is chained and the latest anchor covers `chain`'s head. */
  const anchoredHead = async (chain: string) => {
    await expect.poll(unchained, { timeout: 20_000 }).toBe(0);
    const head = (await su.query('SELECT max(seq)::int AS seq FROM audit_chain WHERE chain = $1', [chain])).rows[0].seq as number;
    await expect
      .poll(
        async () => {
          const r = await http(t.url, 'GET', '/v1/audit-events/anchors?limit=1', { token: admin });
          return r.body.items[0]?.heads.find((h: any) => h.chain === chain)?.seq ?? 0;
        },
        { timeout: 30_000 },
      )
      .toBeGreaterThanOrEqual(head);
    return head;
  };

  beforeAll(async () => {
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'ignore' });
    db = await freshDatabase('audit');
    t = await createTestApp({ env: { DATABASE_URL: db, AUDIT_ANCHOR_INTERVAL: '1s' } });
    su = new Client({ connectionString: db });
    await su.connect();
    admin = await adminToken(t.url);
    a = await createOperator(t.url, admin);
    b = await createOperator(t.url, admin);
    for (const [op, n] of [
      [a, 3],
      [b, 2],
    ] as const)
      for (let i = 0; i < n; i++) {
        const r = await http(t.url, 'POST', '/v1/users', {
          token: op.token,
          body: { name: `投資家${i}`, email: `u${i}@example.jp`, externalRef: `ref-${op.id.slice(0, 8)}-${i}` },
        });
        expect(r.status, r.text).toBe(201);
      }
  }, 180_000);
  afterAll(async () => {
    await su?.end();
    await t?.close();
  });

  it('chains every committed event per firm and for the platform, gapless, hashes recomputed independently', async () => {
    // A rolled-back insert never takes a seq.
    await su.query('BEGIN');
    await su.query(
      `INSERT INTO audit_events (actor_type, operator_id, action, outcome, details) VALUES ('system', $1, 'test.rolled_back', 'success', '{}')`,
      [a.id],
    );
    await su.query('ROLLBACK');
    await expect.poll(unchained, { timeout: 20_000 }).toBe(0);
    for (const chain of ['platform', a.id, b.id]) {
      const { events } = await exportOf(admin, chain);
      const stored = await su.query(`SELECT id::text FROM audit_events WHERE COALESCE(operator_id, 'platform') = $1`, [chain]);
      expect(events.map((e) => e.id).sort()).toEqual(stored.rows.map((r) => r.id).sort());
      expect(events.length).toBeGreaterThan(chain === 'platform' ? 0 : 2);
      let prev = GENESIS;
      events.forEach((e, i) => {
        expect(e.seq).toBe(i + 1);
        expect(e.chain).toBe(chain);
        expect(e.prevHash).toBe(prev);
        expect(e.at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
        expect(Object.keys(e)).toEqual([
          'seq',
          'prevHash',
          'chain',
          'id',
          'at',
          'actor',
          'action',
          'subject',
          'outcome',
          'details',
          'requestId',
          'hash',
        ]);
        expect(e.hash).toBe(hashOf(e));
        prev = e.hash;
      });
      expect(events.some((e) => e.action === 'test.rolled_back')).toBe(false);
    }
    const v = await verifyAll();
    expect(v.ok).toBe(true);
    expect(v.chains.map((c) => c.chain).sort()).toEqual(['platform', a.id, b.id].sort());
    const metrics = await http(t.url, 'GET', '/metrics');
    expect(metrics.text).toMatch(/^kagi_audit_unchained_events \d+$/m);
  });

  it('anchors the heads on chain: a 0-value transaction of the anchor key to itself with the digest of the sorted heads', async () => {
    const head = await anchoredHead(a.id);
    const r = await http(t.url, 'GET', '/v1/audit-events/anchors', { token: admin });
    expect(r.status).toBe(200);
    const anchor = r.body.items[0];
    expect(anchor.heads.find((h: any) => h.chain === a.id)).toMatchObject({ seq: head });
    const lines = anchor.heads.map((h: any) => `${h.chain}:${h.seq}:${h.hash}`).sort();
    expect(anchor.digest).toBe(sha256(lines.join('\n')));
    const tx = await chainClient.getTransaction({ hash: anchor.txHash as Hex });
    expect(tx.input).toBe(`0x${anchor.digest}`);
    expect(tx.value).toBe(0n);
    expect(tx.from.toLowerCase()).toBe(tx.to?.toLowerCase());
    expect(tx.blockNumber).toBe(BigInt(anchor.blockNumber));
    // The anchored head is the chain's hash at that seq.
    const { events } = await exportOf(admin, a.id);
    expect(events[head - 1].hash).toBe(anchor.heads.find((h: any) => h.chain === a.id).hash);
    // Each anchor extends the previous one: every earlier anchored head is still on the chain.
    const v = await verifyAll();
    expect(v.ok).toBe(true);
    expect(v.chains.find((c) => c.chain === a.id)?.lastAnchoredSeq).toBeGreaterThanOrEqual(head);
    // Its transaction's events (queued, key opening, confirmed) are the platform's: no chain of their own.
    expect(v.chains.map((c) => c.chain).sort()).toEqual(['platform', a.id, b.id].sort());
  });

  it('sends each anchor through the transaction queue: a confirmed audit-anchor Transaction of kagi for the platform, listed to admins only', async () => {
    await anchoredHead(a.id);
    const anchor = (await http(t.url, 'GET', '/v1/audit-events/anchors?limit=1', { token: admin })).body.items[0];
    const list = await http(t.url, 'GET', '/v1/transactions?kind=audit-anchor&limit=100', { token: admin });
    expect(list.status, list.text).toBe(200);
    const row = list.body.items.find((x: any) => x.txHash === anchor.txHash);
    expect(row, list.text).toMatchObject({
      kind: 'audit-anchor',
      status: 'confirmed',
      tokenId: null,
      blockNumber: Number(anchor.blockNumber),
      requestedBy: { type: 'system', id: 'kagi' },
      legalBasis: { code: 'regulatory' },
      request: { digest: anchor.digest },
    });
    expect(row.requestedBy.onBehalfOf).toBeUndefined();
    const tx = await chainClient.getTransaction({ hash: anchor.txHash as Hex });
    expect(row.from.toLowerCase()).toBe(tx.from.toLowerCase());
    expect(row.nonce).toBe(tx.nonce);
    // Signed through the pipeline: the key opening is on the platform's record for that row.
    const opened = await su.query(
      `SELECT count(*)::int AS n FROM audit_events WHERE action = 'key.open' AND subject_type = 'audit-anchor-key' AND operator_id IS NULL AND details->>'purpose' = $1`,
      [`transaction audit-anchor ${row.id}`],
    );
    expect(opened.rows[0].n).toBe(1);
    // A firm neither lists nor reads it.
    const firmList = await http(t.url, 'GET', '/v1/transactions?kind=audit-anchor', { token: a.token });
    expect(firmList.status).toBe(200);
    expect(firmList.body.items).toEqual([]);
    expect((await http(t.url, 'GET', `/v1/transactions/${row.id}`, { token: a.token })).status).toBe(404);
  });

  it('does not keep itself going: with nothing else happening, its own transactions start no further anchor', async () => {
    await anchoredHead(a.id);
    const count = async () => Number((await su.query('SELECT count(*) AS n FROM audit_anchors')).rows[0].n);
    // The last anchor's own events (queued, key opening, confirmed) get chained; at most one more anchor may be on its way.
    await new Promise((r) => setTimeout(r, 3_000));
    const before = await count();
    await new Promise((r) => setTimeout(r, 5_000)); // five anchor intervals
    expect(await count()).toBe(before);
  }, 30_000);

  it('keeps firms apart: a firm verifies and exports only its own chain, and sees only its own heads', async () => {
    const foreign = await http(t.url, 'GET', `/v1/audit-events/export?chain=${b.id}`, { token: a.token });
    expect(foreign.status).toBe(404);
    expect(foreign.headers.get('content-type')).toContain('application/problem+json');
    expect(foreign.body.code).toBe('NOT_FOUND');
    expect((await http(t.url, 'GET', `/v1/audit-events/export?chain=platform`, { token: a.token })).status).toBe(404);
    const own = await exportOf(a.token);
    expect(own.events.every((e) => e.chain === a.id)).toBe(true);
    expect(own.text).not.toContain(b.id);
    const v = await http(t.url, 'GET', '/v1/audit-events/verify', { token: a.token });
    expect(v.status).toBe(200);
    expect(v.body.chains.map((c: any) => c.chain)).toEqual([a.id]);
    const anchors = await http(t.url, 'GET', '/v1/audit-events/anchors', { token: a.token });
    expect(anchors.status).toBe(200);
    expect(anchors.text).not.toContain(b.id);
    expect(anchors.body.items.every((x: any) => x.heads.every((h: any) => h.chain === a.id))).toBe(true);
    expect((await http(t.url, 'GET', '/v1/audit-events/export?chain=nope', { token: admin })).status).toBe(400);
    expect((await http(t.url, 'GET', '/v1/audit-events/verify')).status).toBe(401);
  });

  it('verifies an untouched export offline with the CLI, with and without --rpc, and fails a doctored one', async () => {
    await anchoredHead(a.id);
    const dir = mkdtempSync(join(tmpdir(), 'kagi-audit-export-'));
    const env = { DATABASE_URL: db };
    const rpc = inject('rpcUrl');
    const adminExport = await exportOf(admin, a.id);
    const firmExport = await exportOf(a.token);
    expect(adminExport.anchors.length).toBeGreaterThan(0);
    expect(firmExport.anchors.length).toBeGreaterThan(0);
    const file = (name: string, text: string) => {
      const f = join(dir, `${name}.ndjson`);
      writeFileSync(f, text);
      return f;
    };
    // One changed field in the file: the CLI finds it.
    const lines = adminExport.text.split('\n');
    const i = lines.findIndex((l) => l.startsWith('{"seq":2,'));
    const doctored = lines[i]!.replace(/"outcome":"[a-z]+"/, '"outcome":"doctored"');
    expect(doctored).not.toBe(lines[i]);
    lines[i] = doctored;
    // A doctored digest (the heads marked incomplete, so only the chain can tell).
    const forged = [
      ...adminExport.events,
      ...adminExport.anchors.map((x) => ({ anchor: { ...x, digest: sha256('forged'), headsComplete: false } })),
    ]
      .map((l) => JSON.stringify(l))
      .join('\n');
    // The CLI takes seconds to boot on a busy machine: run the cases side by side.
    const [offline, online, firmOnline, bad, forgedOnline] = await Promise.all([
      cli(['audit:verify', '--file', file('admin', adminExport.text)], env),
      cli(['audit:verify', '--file', file('admin2', adminExport.text), '--rpc', rpc], env),
      cli(['audit:verify', '--file', file('firm', firmExport.text), '--rpc', rpc], env),
      cli(['audit:verify', '--file', file('bad', lines.join('\n'))], env),
      cli(['audit:verify', '--file', file('forged', forged), '--rpc', rpc], env),
    ]);
    expect(offline.code, offline.stdout + offline.stderr).toBe(0);
    expect(offline.stdout).toContain('OK');
    expect(offline.stdout).toContain('not checked on chain');
    for (const r of [online, firmOnline]) {
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/anchors: [1-9]\d*, checked on chain/);
    }
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('seq 2: content does not match its hash');
    expect(forgedOnline.code).toBe(1);
    expect(forgedOnline.stdout).toContain("transaction's data is not the anchor's digest");
  }, 240_000);

  it('finds a row whose details were changed by the database superuser: verify reports that seq', async () => {
    await anchoredHead(a.id);
    const row = (
      await su.query(
        `SELECT c.seq::int AS seq, e.id, e.details::text AS details FROM audit_chain c JOIN audit_events e ON e.id = c.event_id WHERE c.chain = $1 AND c.seq = 2`,
        [a.id],
      )
    ).rows[0];
    await tamper(`UPDATE audit_events SET details = details || '{"tampered": true}'::jsonb WHERE id = $1`, [row.id]);
    const v = await verifyAll();
    expect(v.ok).toBe(false);
    const rep = v.chains.find((c) => c.chain === a.id)!;
    expect(rep.firstBrokenSeq).toBe(2);
    expect(rep.problems[0]).toMatchObject({ seq: 2, reason: 'hash-mismatch' });
    expect(v.chains.filter((c) => c.chain !== a.id).every((c) => c.firstBrokenSeq === null)).toBe(true);
    await tamper(`UPDATE audit_events SET details = $2::jsonb WHERE id = $1`, [row.id, row.details]);
    expect((await verifyAll()).ok).toBe(true);
  });

  it('finds a changed row even when every later hash was recomputed: through the on-chain anchor, with an alarm', async () => {
    const head = await anchoredHead(a.id);
    expect(head).toBeGreaterThanOrEqual(3);
    const saved = (await su.query(`SELECT seq::int AS seq, prev_hash, hash FROM audit_chain WHERE chain = $1 ORDER BY seq`, [a.id])).rows;
    const target = (
      await su.query(
        `SELECT event_id, (SELECT details::text FROM audit_events WHERE id = event_id) AS details FROM audit_chain WHERE chain = $1 AND seq = 2`,
        [a.id],
      )
    ).rows[0];
    await tamper(`UPDATE audit_events SET details = details || '{"tampered": true}'::jsonb WHERE id = $1`, [target.event_id]);
    // Recompute seq 2.. with the contract's rule, as an attacker with the superuser would.
    const { events } = await exportOf(admin, a.id);
    let prev = events[0].hash;
    for (const e of events.slice(1)) {
      const fixed = { ...e, prevHash: prev };
      const hash = hashOf(fixed);
      await tamper(`UPDATE audit_chain SET prev_hash = $3, hash = $4 WHERE chain = $1 AND seq = $2`, [a.id, e.seq, prev, hash]);
      prev = hash;
    }
    // The chain is self-consistent again: only the anchors can tell.
    const rewritten = await exportOf(admin, a.id);
    expect(rewritten.events.every((e) => e.hash === hashOf(e))).toBe(true);
    const v = await verifyAll();
    expect(v.ok).toBe(false);
    const rep = v.chains.find((c) => c.chain === a.id)!;
    expect(rep.firstBrokenSeq).not.toBeNull();
    expect(rep.firstBrokenSeq!).toBeLessThanOrEqual(2);
    expect(rep.problems.map((p: any) => p.reason)).toContain('anchor-mismatch');
    // The next anchor round refuses to anchor the rewritten head: an alarm (audit event, metric, log).
    // Read from the database and /metrics: Nest's Logger is process-wide, and with the whole suite in
    // one process another app may own the captured log lines, so the log line is not asserted here.
    await expect
      .poll(
        async () =>
          (await su.query(`SELECT count(*)::int AS n FROM audit_events WHERE action = 'audit.anchor_alarm' AND subject_id = $1`, [a.id]))
            .rows[0].n,
        { timeout: 45_000 },
      )
      .toBeGreaterThan(0);
    expect((await http(t.url, 'GET', '/metrics')).text).toMatch(/^kagi_audit_anchor_alarms_total [1-9]/m);
    const anchors = await http(t.url, 'GET', '/v1/audit-events/anchors?limit=1', { token: admin });
    expect(anchors.body.items[0].heads.find((h: any) => h.chain === a.id)).toMatchObject({ seq: head, hash: saved[head - 1].hash });
    // Put everything back (firm B's chain is used for the next case).
    await tamper(`UPDATE audit_events SET details = $2::jsonb WHERE id = $1`, [target.event_id, target.details]);
    for (const s of saved)
      await tamper(`UPDATE audit_chain SET prev_hash = $3, hash = $4 WHERE chain = $1 AND seq = $2`, [a.id, s.seq, s.prev_hash, s.hash]);
  }, 120_000);

  it('finds a rewrite even when the database copy of every anchor was rewritten too: only the transaction on chain tells', async () => {
    // The anchorer is kept out meanwhile (its advisory lock held here), so it anchors nothing of the forgery.
    await su.query('SELECT pg_advisory_lock($1, $2)', ANCHOR_LOCK);
    const savedChain = (await su.query(`SELECT seq::int AS seq, prev_hash, hash FROM audit_chain WHERE chain = $1 ORDER BY seq`, [a.id]))
      .rows;
    const savedAnchors = (await su.query(`SELECT id, heads::text AS heads, digest FROM audit_anchors`)).rows;
    const target = (
      await su.query(
        `SELECT event_id, (SELECT details::text FROM audit_events WHERE id = event_id) AS details FROM audit_chain WHERE chain = $1 AND seq = 2`,
        [a.id],
      )
    ).rows[0];
    try {
      expect(savedAnchors.some((x) => x.heads.includes(a.id))).toBe(true);
      await tamper(`UPDATE audit_events SET details = details || '{"tampered": true}'::jsonb WHERE id = $1`, [target.event_id]);
      // Every later hash recomputed, then every anchor row's head of this chain and its digest, by the contract's rules.
      const { events } = await exportOf(admin, a.id);
      const rewritten = new Map<number, string>([[1, events[0].hash]]);
      let prev = events[0].hash;
      for (const e of events.slice(1)) {
        const hash = hashOf({ ...e, prevHash: prev });
        await tamper(`UPDATE audit_chain SET prev_hash = $3, hash = $4 WHERE chain = $1 AND seq = $2`, [a.id, e.seq, prev, hash]);
        rewritten.set(e.seq, hash);
        prev = hash;
      }
      for (const x of savedAnchors) {
        const heads = (JSON.parse(x.heads) as Array<{ chain: string; seq: number; hash: string }>).map((h) =>
          h.chain === a.id ? { ...h, hash: rewritten.get(h.seq)! } : h,
        );
        const digest = sha256(
          heads
            .map((h) => `${h.chain}:${h.seq}:${h.hash}`)
            .sort()
            .join('\n'),
        );
        await tamper(`UPDATE audit_anchors SET heads = $2::jsonb, digest = $3 WHERE id = $1`, [x.id, JSON.stringify(heads), digest]);
      }
      // Everything in the database agrees with itself again, the export too (its anchor digests included).
      const forged = await exportOf(admin, a.id);
      expect(forged.events.every((e) => e.hash === hashOf(e))).toBe(true);
      for (const x of forged.anchors)
        expect(
          sha256(
            x.heads
              .map((h: any) => `${h.chain}:${h.seq}:${h.hash}`)
              .sort()
              .join('\n'),
          ),
        ).toBe(x.digest);
      const v = await verifyAll();
      expect(v.ok).toBe(false);
      const rep = v.chains.find((c) => c.chain === a.id)!;
      expect(rep.firstBrokenSeq).not.toBeNull();
      expect(rep.firstBrokenSeq!).toBeLessThanOrEqual(2);
      expect(rep.problems.map((p: any) => p.reason)).toContain('anchor-forged');
      // Offline, the export alone is consistent; with --rpc the CLI compares each anchor with its transaction and finds it.
      const dir = mkdtempSync(join(tmpdir(), 'kagi-audit-forged-'));
      const f = join(dir, 'forged.ndjson');
      writeFileSync(f, forged.text);
      const [offline, online] = await Promise.all([
        cli(['audit:verify', '--file', f], { DATABASE_URL: db }),
        cli(['audit:verify', '--file', f, '--rpc', inject('rpcUrl')], { DATABASE_URL: db }),
      ]);
      expect(offline.code, offline.stdout + offline.stderr).toBe(0);
      expect(offline.stdout).toContain('not checked on chain');
      expect(online.code, online.stdout + online.stderr).toBe(1);
      expect(online.stdout).toContain("transaction's data is not the anchor's digest");
    } finally {
      await tamper(`UPDATE audit_events SET details = $2::jsonb WHERE id = $1`, [target.event_id, target.details]);
      for (const c of savedChain)
        await tamper(`UPDATE audit_chain SET prev_hash = $3, hash = $4 WHERE chain = $1 AND seq = $2`, [a.id, c.seq, c.prev_hash, c.hash]);
      for (const x of savedAnchors)
        await tamper(`UPDATE audit_anchors SET heads = $2::jsonb, digest = $3 WHERE id = $1`, [x.id, x.heads, x.digest]);
      await su.query('SELECT pg_advisory_unlock($1, $2)', ANCHOR_LOCK);
    }
    expect((await verifyAll()).chains.find((c) => c.chain === a.id)?.firstBrokenSeq).toBeNull();
  }, 240_000);

  it('finds deleted last rows through the anchors', async () => {
    const head = await anchoredHead(b.id);
    expect((await verifyAll()).chains.find((c) => c.chain === b.id)?.firstBrokenSeq).toBeNull();
    const last = (await su.query(`SELECT event_id FROM audit_chain WHERE chain = $1 AND seq > $2`, [b.id, head - 2])).rows.map(
      (r) => r.event_id,
    );
    await tamper(`DELETE FROM audit_chain WHERE chain = $1 AND seq > $2`, [b.id, head - 2]);
    await tamper(`DELETE FROM audit_events WHERE id = ANY($1::uuid[])`, [last]);
    const v = await verifyAll();
    const rep = v.chains.find((c) => c.chain === b.id)!;
    expect(v.ok).toBe(false);
    expect(rep.events).toBe(head - 2);
    expect(rep.firstBrokenSeq).not.toBeNull();
    expect(rep.firstBrokenSeq!).toBeLessThanOrEqual(head - 1);
    expect(rep.problems.map((p: any) => p.reason)).toContain('anchor-mismatch');
  });

  it('measures the chainer: events chained per second', async () => {
    const n = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < 20; i++)
      await su.query(
        `INSERT INTO audit_events (actor_type, operator_id, action, outcome, details)
         SELECT 'system', NULL, 'bench.event', 'success', jsonb_build_object('i', g) FROM generate_series(1, $1) g`,
        [n / 20],
      );
    await expect.poll(unchained, { timeout: 120_000, interval: 50 }).toBe(0);
    const seconds = (performance.now() - t0) / 1000;
    console.log(`chainer throughput: ${n} events in ${seconds.toFixed(2)} s = ${Math.round(n / seconds)} events/s`);
    expect(n / seconds).toBeGreaterThan(200);
  }, 180_000);
});

describe('notifications: read state per reader', () => {
  let t: TestApp;
  let admin: string;
  let a: OperatorFixture;
  let b: OperatorFixture;

  beforeAll(async () => {
    t = await createTestApp();
    admin = await adminToken(t.url);
    a = await createOperator(t.url, admin);
    b = await createOperator(t.url, admin);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  const readAtOf = async (token: string, id: string) => {
    const r = await http(t.url, 'GET', '/v1/notifications?limit=100', { token });
    expect(r.status).toBe(200);
    return r.body.items.find((i: any) => i.id === id)?.readAt as string | null | undefined;
  };

  it('an admin reading does not mark it read for the firm, and vice versa', async () => {
    const u = await http(t.url, 'POST', '/v1/users', {
      token: a.token,
      body: { name: '佐藤', email: 's@example.jp', externalRef: `r-${Date.now()}` },
    });
    expect(u.status).toBe(201);
    const feed = await http(t.url, 'GET', '/v1/notifications', { token: a.token });
    const n = feed.body.items.find((i: any) => i.body.includes(u.body.id));
    expect(n).toMatchObject({ kind: 'user.registered', readAt: null });
    expect((await http(t.url, 'POST', `/v1/notifications/${n.id}/read`, { token: admin })).status).toBe(204);
    expect(await readAtOf(admin, n.id)).toMatch(/Z$/);
    expect(await readAtOf(a.token, n.id)).toBeNull();
    expect((await http(t.url, 'POST', `/v1/notifications/${n.id}/read`, { token: b.token })).status).toBe(404);
    expect(await readAtOf(b.token, n.id)).toBeUndefined();
    expect((await http(t.url, 'POST', `/v1/notifications/${n.id}/read`, { token: a.token })).status).toBe(204);
    const firstMark = await readAtOf(a.token, n.id);
    expect(firstMark).toMatch(/Z$/);
    // Marking again keeps the first mark.
    expect((await http(t.url, 'POST', `/v1/notifications/${n.id}/read`, { token: a.token })).status).toBe(204);
    expect(await readAtOf(a.token, n.id)).toBe(firstMark);
  });

  it('tells the firm about a first wallet, not only a reissue (NotificationsService.walletIssued)', async () => {
    const notifications = t.app.get(NotificationsService);
    const ds = t.app.get((await import('typeorm')).DataSource);
    const user = { id: '00000000-0000-4000-8000-000000000001', name: '鈴木', operatorId: a.id };
    await ds.transaction((em) =>
      notifications.walletIssued(em, { user, address: '0x0000000000000000000000000000000000000001', oldAddress: null }),
    );
    await ds.transaction((em) =>
      notifications.walletIssued(em, {
        user,
        address: '0x0000000000000000000000000000000000000002',
        oldAddress: '0x0000000000000000000000000000000000000001',
        reason: 'lost',
      }),
    );
    const feed = await http(t.url, 'GET', '/v1/notifications?limit=100', { token: a.token });
    const mine = feed.body.items.filter((i: any) => i.body.includes(user.id));
    expect(mine.map((i: any) => i.kind).sort()).toEqual(['wallet.issued', 'wallet.reissued']);
    expect(
      (await http(t.url, 'GET', '/v1/notifications?limit=100', { token: b.token })).body.items.some((i: any) => i.body.includes(user.id)),
    ).toBe(false);
  });
});
