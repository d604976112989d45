/**
 * Signed webhooks end to end, with a real HTTP receiver on loopback in the test process:
 * signatures verified by the receiver with the standardwebhooks library, every confirmed
 * transaction delivered in strictly increasing `sequence`, a receiver down and back, no
 * redirect followed, a secret rotation signing twice, private and metadata addresses refused,
 * an endpoint failing past its window disabled and its firm notified, and a kill -9 of the API
 * in the middle of a delivery. Retry delays are shortened with the test-only WEBHOOK_RETRY_BASE
 * (200 ms instead of 5 s) and WEBHOOK_DISABLE_AFTER (3 s instead of 24 h).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../dev/processes';
import { createTestApp, http, testEnv, type TestApp } from '../support/app';
import { adminToken, createOperator, type OperatorFixture } from '../support/api';

interface Received {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A loopback receiver: records every request; can be stopped and started again on the same port; `/redirect` answers 302. */
class Receiver {
  readonly got: Received[] = [];
  /** Milliseconds to wait before answering (a slow receiver). */
  delayMs = 0;
  port = 0;
  private server: Server | undefined;

  async start(port = this.port): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.got.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        if (req.url === '/redirect') return void res.writeHead(302, { location: '/target' }).end();
        setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'), this.delayMs);
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Verified with the receiver's copy of the secret; throws on a bad signature. */
  verified(
    secret: string,
    from = 0,
    path = '/hook',
  ): Array<{ id: string; at: number; body: { type: string; sequence: number; data: any } }> {
    const wh = new Webhook(secret);
    return this.got
      .slice(from)
      .filter((r) => r.path === path)
      .map((r) => ({ id: String(r.headers['webhook-id']), at: r.at, body: wh.verify(r.body, r.headers as Record<string, string>) as any }));
  }
}

async function setupFirm(base: string, admin: string): Promise<{ op: OperatorFixture; userId: string; tokenId: string }> {
  const op = await createOperator(base, admin);
  const u = await http(base, 'POST', '/v1/users', { token: op.token, body: { name: 'ウェブフック', email: 'wh@example.jp' } });
  expect(u.status, u.text).toBe(201);
  const w = await fetch(`${base}/v1/users/${u.body.id}/wallet`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(w.status).toBe(201);
  await w.arrayBuffer();
  const tk = await http(base, 'POST', '/v1/tokens', {
    token: op.token,
    body: { name: 'Hook', symbol: 'HOOK', decimals: 0 },
    headers: { prefer: 'wait=30' },
  });
  expect(tk.body.status, tk.text).toBe('active');
  return { op, userId: u.body.id, tokenId: tk.body.id };
}

async function issue(base: string, f: { op: OperatorFixture; userId: string; tokenId: string }, n: number): Promise<string[]> {
  const ids: string[] = [];
  // A few at a time, as a back office would send them.
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, () =>
        http(base, 'POST', `/v1/tokens/${f.tokenId}/issue`, { token: f.op.token, body: { userId: f.userId, amount: '1' } }),
      ),
    );
    for (const r of batch) {
      expect(r.status, r.text).toBe(202);
      ids.push(r.body.id);
    }
  }
  return ids;
}

/** Every distinct webhook-id in arrival order has a strictly higher sequence than the one before; a repeat carries the same body. */
function expectOrderedAtLeastOnce(got: Array<{ id: string; body: { sequence: number } }>): void {
  const first = new Map<string, string>();
  let last = 0;
  for (const g of got) {
    const seen = first.get(g.id);
    if (seen !== undefined) {
      expect(JSON.stringify(g.body)).toBe(seen);
      continue;
    }
    first.set(g.id, JSON.stringify(g.body));
    expect(g.body.sequence).toBeGreaterThan(last);
    last = g.body.sequence;
  }
  const sequences = [...first.values()].map((b) => (JSON.parse(b) as { sequence: number }).sequence);
  expect(new Set(sequences).size).toBe(sequences.length);
}

const confirmedIds = (got: Array<{ body: { type: string; data: any } }>) =>
  new Set(got.filter((g) => g.body.type === 'transaction.confirmed').map((g) => g.body.data.id as string));

/** How many of `ids` have no `transaction.confirmed` delivery yet (one pass over what arrived). */
function missing(ids: readonly string[], got: Array<{ body: { type: string; data: any } }>): number {
  const done = confirmedIds(got);
  return ids.filter((id) => !done.has(id)).length;
}

describe('webhooks (private addresses allowed, as in dev and tests)', () => {
  let t: TestApp;
  let admin: string;
  let firm: Awaited<ReturnType<typeof setupFirm>>;
  const rx = new Receiver();
  let hook: { id: string; secret: string };

  beforeAll(async () => {
    t = await createTestApp({ env: { WEBHOOK_RETRY_BASE: '200ms' } });
    admin = await adminToken(t.url);
    firm = await setupFirm(t.url, admin);
    await rx.start();
    const r = await http(t.url, 'POST', '/v1/webhooks', {
      token: firm.op.token,
      body: { url: rx.url(), events: ['transaction.queued', 'transaction.submitted', 'transaction.confirmed', 'transaction.failed'] },
    });
    expect(r.status, r.text).toBe(201);
    hook = { id: r.body.id, secret: r.body.secret };
  });
  afterAll(async () => {
    // Leave no loopback endpoint behind for the next app of this run.
    for (const { id } of (await http(t.url, 'GET', '/v1/webhooks?limit=100', { token: firm.op.token })).body?.items ?? [])
      await http(t.url, 'DELETE', `/v1/webhooks/${id}`, { token: firm.op.token });
    await t?.close();
    await rx.stop();
  });

  it('shows the secret once and never again; a firm sees only its own endpoints', async () => {
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const list = await http(t.url, 'GET', '/v1/webhooks', { token: firm.op.token });
    expect(list.status).toBe(200);
    expect(list.body.items.map((i: { id: string }) => i.id)).toEqual([hook.id]);
    expect(list.text).not.toContain(hook.secret.slice(6, 30));
    const other = await createOperator(t.url, admin);
    expect((await http(t.url, 'GET', '/v1/webhooks', { token: other.token })).body.items).toEqual([]);
    expect((await http(t.url, 'PATCH', `/v1/webhooks/${hook.id}`, { token: other.token, body: { enabled: true } })).status).toBe(404);
    expect((await http(t.url, 'GET', `/v1/webhooks/${hook.id}/deliveries`, { token: other.token })).status).toBe(404);
    // Admins manage platform endpoints only.
    expect((await http(t.url, 'GET', '/v1/webhooks', { token: admin })).body.items.map((i: { id: string }) => i.id)).not.toContain(hook.id);
    const bad = await http(t.url, 'POST', '/v1/webhooks', { token: firm.op.token, body: { url: rx.url(), events: ['nope'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
  });

  it('the secret is in no log line, and neither the endpoint row nor the audit trail holds it in clear', async () => {
    const raw = Buffer.from(hook.secret.slice('whsec_'.length), 'base64');
    const needles = [raw.toString('base64'), raw.toString('base64url'), raw.toString('hex')];
    const logs = t.logs.join('\n');
    const db = new Client({ connectionString: inject('databaseUrl') });
    await db.connect();
    try {
      const r = await db.query<{ d: string }>(
        `SELECT (SELECT json_agg(w)::text FROM webhook_endpoints w) || (SELECT json_agg(a)::text FROM audit_events a) AS d`,
      );
      const dump = r.rows[0]!.d;
      expect(dump).toContain(hook.id);
      for (const n of needles) {
        expect(logs).not.toContain(n);
        expect(dump).not.toContain(n);
      }
    } finally {
      await db.end();
    }
  });

  it('delivers every confirmed transaction of a 200-operation run, signed, in strictly increasing sequence', async () => {
    const t0 = Date.now();
    const ids = await issue(t.url, firm, 200);
    await expect.poll(() => missing(ids, rx.verified(hook.secret)), { timeout: 180_000, interval: 500 }).toBe(0);
    const got = rx.verified(hook.secret);
    expectOrderedAtLeastOnce(got);
    // Each transaction's lifecycle arrives in order: queued before submitted before confirmed.
    const order = new Map<string, string[]>();
    for (const g of new Map(got.map((x) => [x.id, x])).values())
      order.set(g.body.data.id, [...(order.get(g.body.data.id) ?? []), g.body.type]);
    for (const id of ids) {
      const types = order.get(id)!;
      expect(types[0]).toBe('transaction.queued');
      expect(types.at(-1)).toBe('transaction.confirmed');
      expect(types).toContain('transaction.submitted');
    }
    const c = got.find((g) => g.body.type === 'transaction.confirmed')!;
    expect(c.body.data).toMatchObject({ status: 'confirmed', kind: 'issue', tokenId: firm.tokenId });
    expect(c.body.data.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    // Lag from the confirmation's commit (the row's updatedAt) to its arrival at the receiver.
    const lags = got
      .filter((g) => g.body.type === 'transaction.confirmed')
      .map((g) => g.at - Date.parse(g.body.data.updatedAt))
      .sort((a, b) => a - b);
    const p50 = lags[Math.floor(lags.length / 2)];
    console.log(
      `webhooks: 200 operations, ${got.length} deliveries, all confirmed delivered ${Date.now() - t0} ms after the first request; confirmed→received p50 ${p50} ms, max ${lags.at(-1)} ms`,
    );
  }, 240_000);

  it('a receiver down for 30 s gets everything once back: duplicates only under the same webhook-id, sequence strictly increasing', async () => {
    const DOWN_MS = 30_000;
    const before = rx.got.length;
    await rx.stop();
    const down = Date.now();
    const ids = await issue(t.url, firm, 20);
    // The operations confirm while the receiver is down; their deliveries fail and are retried.
    await new Promise((r) => setTimeout(r, Math.max(0, DOWN_MS - (Date.now() - down))));
    const log = await http(t.url, 'GET', `/v1/webhooks/${hook.id}/deliveries?limit=100`, { token: firm.op.token });
    // The held head is the pending delivery tried most often; the ones behind it wait untried.
    const head = log.body.items
      .filter((d: { status: string }) => d.status === 'pending')
      .sort((x: { attempt: number }, y: { attempt: number }) => y.attempt - x.attempt)[0];
    // The held head was tried again and again (no answer at all: responseStatus null), and nothing after it was delivered.
    expect(head, JSON.stringify(log.body.items.slice(0, 3))).toMatchObject({ status: 'pending', responseStatus: null });
    expect(head.attempt).toBeGreaterThanOrEqual(5);
    expect(rx.got.length).toBe(before);
    await rx.start();
    const back = Date.now();
    await expect.poll(() => missing(ids, rx.verified(hook.secret)), { timeout: 90_000, interval: 500 }).toBe(0);
    const got = rx.verified(hook.secret);
    expectOrderedAtLeastOnce(got);
    // One event, one webhook-id: a repeat is the same delivery, never a second copy under a new id.
    const idsOf = new Map<string, Set<string>>();
    for (const g of got) {
      const key = `${g.body.type}:${g.body.data.id}`;
      idsOf.set(key, (idsOf.get(key) ?? new Set()).add(g.id));
    }
    for (const [key, whIds] of idsOf) expect(whIds.size, key).toBe(1);
    // Every event of the 20 operations arrived after the receiver came back, none was lost.
    for (const id of ids) expect(idsOf.has(`transaction.confirmed:${id}`)).toBe(true);
    console.log(
      `webhooks: receiver down ${back - down} ms (head attempted ${head.attempt} times), all 20 confirmed delivered ${Date.now() - back} ms after it came back`,
    );
  }, 180_000);

  it('a slow receiver holds back only its own endpoint: operations confirm and other endpoints are served meanwhile', async () => {
    const slow = new Receiver();
    slow.delayMs = 9_000;
    await slow.start();
    const r = await http(t.url, 'POST', '/v1/webhooks', {
      token: firm.op.token,
      body: { url: slow.url(), events: ['transaction.queued', 'transaction.submitted', 'transaction.confirmed'] },
    });
    expect(r.status).toBe(201);
    try {
      const t0 = Date.now();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const op = await http(t.url, 'POST', `/v1/tokens/${firm.tokenId}/issue`, {
          token: firm.op.token,
          body: { userId: firm.userId, amount: '1' },
          headers: { prefer: 'wait=30' },
        });
        expect(op.body.status, op.text).toBe('confirmed');
        ids.push(op.body.id);
      }
      const opsMs = Date.now() - t0;
      await expect.poll(() => missing(ids, rx.verified(hook.secret)), { timeout: 30_000, interval: 300 }).toBe(0);
      const fastMs = Date.now() - t0;
      // 15 deliveries at 9 s each are waiting on the slow endpoint; it has answered at most a few so far.
      expect(slow.got.length).toBeLessThanOrEqual(Math.ceil(fastMs / 9_000) + 1);
      console.log(
        `webhooks: 5 operations confirmed (Prefer: wait) in ${opsMs} ms, the fast endpoint had them all after ${fastMs} ms, the 9 s receiver ${slow.got.length}`,
      );
    } finally {
      await http(t.url, 'DELETE', `/v1/webhooks/${r.body.id}`, { token: firm.op.token });
      await slow.stop();
    }
  }, 60_000);

  it('does not follow a redirect: a 3xx is a failed attempt and holds the endpoint', async () => {
    const r = await http(t.url, 'POST', '/v1/webhooks', {
      token: firm.op.token,
      body: { url: rx.url('/redirect'), events: ['user.registered'] },
    });
    expect(r.status).toBe(201);
    const u = await http(t.url, 'POST', '/v1/users', { token: firm.op.token, body: { name: 'リダイレクト', email: 'r@example.jp' } });
    expect(u.status).toBe(201);
    await expect
      .poll(async () => (await http(t.url, 'GET', `/v1/webhooks/${r.body.id}/deliveries`, { token: firm.op.token })).body.items[0], {
        timeout: 20_000,
        interval: 300,
      })
      .toMatchObject({ type: 'user.registered', status: 'pending', responseStatus: 302 });
    expect(rx.got.filter((g) => g.path === '/redirect').length).toBeGreaterThanOrEqual(1);
    expect(rx.got.some((g) => g.path === '/target')).toBe(false);
    const sent = new Webhook(r.body.secret).verify(
      rx.got.find((g) => g.path === '/redirect')!.body,
      rx.got.find((g) => g.path === '/redirect')!.headers as Record<string, string>,
    );
    expect(sent).toMatchObject({ type: 'user.registered', sequence: 1, data: { userId: u.body.id } });
    expect((await http(t.url, 'DELETE', `/v1/webhooks/${r.body.id}`, { token: firm.op.token })).status).toBe(204);
  });

  it('after a rotation, deliveries carry both signatures: the old and the new secret each verify', async () => {
    const rot = await http(t.url, 'POST', `/v1/webhooks/${hook.id}/rotate-secret`, { token: firm.op.token });
    expect(rot.status).toBe(200);
    expect(rot.body.secret).toMatch(/^whsec_/);
    expect(rot.body.secret).not.toBe(hook.secret);
    const before = rx.got.length;
    const [id] = await issue(t.url, firm, 1);
    await expect.poll(() => confirmedIds(rx.verified(rot.body.secret, before)).has(id!), { timeout: 30_000, interval: 300 }).toBe(true);
    const fresh = rx.got.slice(before);
    expect(fresh.every((g) => String(g.headers['webhook-signature']).split(' ').length === 2)).toBe(true);
    // Each secret alone verifies every delivery since the rotation (a receiver still holding the old one keeps working).
    for (const s of [hook.secret, rot.body.secret]) expect(confirmedIds(rx.verified(s, before)).has(id!)).toBe(true);
    hook.secret = rot.body.secret;
  });

  it('a completed key rotation is reported to the firm as rotation.completed, signed', async () => {
    // A firm of its own without tokens, so the rotation runs hold-queue, settle-old, destroy-old-key only.
    const other = await createOperator(t.url, admin);
    const orx = new Receiver();
    await orx.start();
    try {
      const w = await http(t.url, 'POST', '/v1/webhooks', { token: other.token, body: { url: orx.url(), events: ['rotation.completed'] } });
      expect(w.status, w.text).toBe(201);
      const r = await http(t.url, 'POST', `/v1/operators/${other.id}/key-rotation`, { token: admin, body: {} });
      expect(r.status, r.text).toBe(202);
      await expect
        .poll(async () => (await http(t.url, 'GET', `/v1/rotations/${r.body.id}`, { token: admin })).body.status, {
          timeout: 60_000,
          interval: 250,
        })
        .toBe('completed');
      await expect.poll(() => orx.verified(w.body.secret).length, { timeout: 30_000, interval: 250 }).toBeGreaterThan(0);
      const [ev, ...more] = orx.verified(w.body.secret);
      expect(more.filter((m) => m.id !== ev!.id)).toEqual([]);
      const rot = (await http(t.url, 'GET', `/v1/rotations/${r.body.id}`, { token: admin })).body;
      expect(ev!.body).toMatchObject({
        type: 'rotation.completed',
        sequence: 1,
        data: {
          id: r.body.id,
          signer: { kind: 'operator', id: other.id },
          oldAddress: rot.oldAddress,
          newAddress: rot.newAddress,
          status: 'completed',
        },
      });
      expect(rot.newAddress).not.toBe(rot.oldAddress);
      // Not the first firm's event: its endpoint does not subscribe and is another tenant (bodies read
      // unverified: that receiver's earlier deliveries were signed with the secret before its rotation).
      expect(rx.got.some((g) => (JSON.parse(g.body) as { type: string }).type === 'rotation.completed')).toBe(false);
    } finally {
      await orx.stop();
    }
  }, 90_000);

  it('manual retry sends a delivered event again with the same webhook-id', async () => {
    const log = await http(t.url, 'GET', `/v1/webhooks/${hook.id}/deliveries`, { token: firm.op.token });
    const d = log.body.items.find((i: { status: string }) => i.status === 'delivered');
    const before = rx.got.filter((g) => g.headers['webhook-id'] === d.id).length;
    const r = await http(t.url, 'POST', `/v1/webhooks/${hook.id}/deliveries/${d.id}/retry`, { token: firm.op.token });
    expect(r.status).toBe(202);
    await expect.poll(() => rx.got.filter((g) => g.headers['webhook-id'] === d.id).length, { timeout: 20_000 }).toBe(before + 1);
    const unknown = await http(t.url, 'POST', `/v1/webhooks/${hook.id}/deliveries/${firm.userId}/retry`, { token: firm.op.token });
    expect(unknown.status).toBe(404);
  });
});

describe('webhooks with WEBHOOK_ALLOW_PRIVATE=false', () => {
  let t: TestApp;
  let admin: string;
  let op: OperatorFixture;
  const rx = new Receiver();

  beforeAll(async () => {
    t = await createTestApp({ env: { WEBHOOK_ALLOW_PRIVATE: 'false', WEBHOOK_RETRY_BASE: '200ms', WEBHOOK_DISABLE_AFTER: '3s' } });
    admin = await adminToken(t.url);
    op = await createOperator(t.url, admin);
    await rx.start();
  });
  afterAll(async () => {
    await t?.close();
    await rx.stop();
  });

  it.each([
    'http://127.0.0.1:8080/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::ffff:169.254.169.254]/',
    'http://[::ffff:127.0.0.1]/',
    'http://10.0.0.8/',
    'http://100.64.0.1/',
    'http://0.0.0.0/',
    'http://[fe80::1]/',
    'http://user:pw@hooks.example.com/',
  ])('refuses %s at registration with 400 VALIDATION_FAILED', async (url) => {
    const r = await http(t.url, 'POST', '/v1/webhooks', { token: op.token, body: { url, events: ['user.registered'] } });
    expect(r.status, r.text).toBe(400);
    expect(r.body.code).toBe('VALIDATION_FAILED');
    expect(r.body.errors[0].field).toBe('url');
  });

  it('refuses a name that resolves to loopback at delivery, then disables the failing endpoint and tells the firm', async () => {
    const r = await http(t.url, 'POST', '/v1/webhooks', {
      token: op.token,
      body: { url: `http://localhost:${rx.port}/hook`, events: ['user.registered'] },
    });
    expect(r.status, r.text).toBe(201);
    const u = await http(t.url, 'POST', '/v1/users', { token: op.token, body: { name: 'ループバック', email: 'l@example.jp' } });
    expect(u.status).toBe(201);
    await expect
      .poll(async () => (await http(t.url, 'GET', '/v1/webhooks', { token: op.token })).body.items[0], { timeout: 30_000, interval: 500 })
      .toMatchObject({ id: r.body.id, enabled: false, disabledReason: 'failing' });
    const log = await http(t.url, 'GET', `/v1/webhooks/${r.body.id}/deliveries`, { token: op.token });
    expect(log.body.items[0]).toMatchObject({ status: 'failed', responseStatus: null });
    expect(log.body.items[0].attempt).toBeGreaterThanOrEqual(2);
    expect(rx.got).toEqual([]);
    const notes = await http(t.url, 'GET', '/v1/notifications', { token: op.token });
    expect(notes.body.items.map((n: { kind: string }) => n.kind)).toContain('webhook.disabled');
    // Re-enabling resumes from the held event (refused again here, so it is attempted again).
    const en = await http(t.url, 'PATCH', `/v1/webhooks/${r.body.id}`, { token: op.token, body: { enabled: true } });
    expect(en.status).toBe(200);
    expect(en.body).toMatchObject({ enabled: true, disabledReason: null });
    await expect
      .poll(async () => (await http(t.url, 'GET', `/v1/webhooks/${r.body.id}/deliveries`, { token: op.token })).body.items[0].attempt, {
        timeout: 20_000,
      })
      .toBeGreaterThan(log.body.items[0].attempt);
    expect(rx.got).toEqual([]);
    await http(t.url, 'DELETE', `/v1/webhooks/${r.body.id}`, { token: op.token });
  }, 60_000);
});

describe('webhooks across a kill -9 of the API', () => {
  const root = process.cwd();
  let child: ChildProcess | undefined;
  const rx = new Receiver();

  function startApi(env: Record<string, string | undefined>): { url: string; ready: Promise<void> } {
    child = spawn(process.execPath, [join(root, 'dist', 'src', 'main.js')], {
      env: { ...process.env, ...env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
      stdio: 'ignore',
    });
    const url = `http://127.0.0.1:${env.PORT}`;
    const ready = (async () => {
      for (let i = 0; i < 300; i++) {
        if (
          (await fetch(`${url}/health/ready`).then(
            (r) => r.status,
            () => 0,
          )) === 200
        )
          return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('API did not become ready');
    })();
    return { url, ready };
  }

  beforeAll(async () => {
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'ignore' });
    await rx.start();
  }, 120_000);
  afterAll(async () => {
    child?.kill('SIGKILL');
    await rx.stop();
  });

  it('a delivery in flight when the API is killed is delivered after the restart, with the same webhook-id', async () => {
    const env = testEnv({ PORT: String(await freePort()), LOG_LEVEL: 'silent', WEBHOOK_RETRY_BASE: '200ms' });
    let api = startApi(env);
    await api.ready;
    const admin = await adminToken(api.url);
    const firm = await setupFirm(api.url, admin);
    const r = await http(api.url, 'POST', '/v1/webhooks', {
      token: firm.op.token,
      body: { url: rx.url(), events: ['transaction.confirmed'] },
    });
    expect(r.status).toBe(201);
    const secret = r.body.secret as string;
    // A slow receiver: the first delivery is still waiting for its answer when the API dies.
    rx.delayMs = 5_000;
    const ids = await issue(api.url, firm, 10);
    await expect.poll(() => rx.got.length, { timeout: 60_000, interval: 100 }).toBeGreaterThan(0);
    const inFlight = String(rx.got[0]!.headers['webhook-id']);
    child!.kill('SIGKILL');
    await new Promise((res) => child!.once('exit', res));
    rx.delayMs = 0;
    api = startApi(env);
    await api.ready;
    await expect.poll(() => missing(ids, rx.verified(secret)), { timeout: 120_000, interval: 500 }).toBe(0);
    const repeats = rx.got.filter((g) => g.headers['webhook-id'] === inFlight);
    expect(repeats.length).toBeGreaterThanOrEqual(2);
    // The same webhook-id, each attempt with its own webhook-timestamp (the lease of the killed API ran out first).
    expect(new Set(repeats.map((g) => g.headers['webhook-timestamp'])).size).toBe(repeats.length);
    expectOrderedAtLeastOnce(rx.verified(secret));
    await http(api.url, 'DELETE', `/v1/webhooks/${r.body.id}`, { token: firm.op.token });
  }, 240_000);
});
