/**
 * Hostile input, driven by the committed openapi.json: every route gets malformed,
 * oversized, wrongly typed and boundary values in path, query, body and headers, with
 * real ids of two tenants mixed in, without, with wrong and with valid credentials of
 * both principal kinds. Nothing may answer ≥ 500; every error is problem+json with a code
 * from the contract's table; and a refused request writes nothing: every table is
 * fingerprinted before and after each case (this file has a database of its own, so all
 * writes are its own; the refusal bookkeeping is explained in test/support/db.ts).
 * Seeded (FC_SEED overrides); the seed and the tally are printed.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, http, type TestApp } from '../support/app';
import { adminToken, login } from '../support/api';
import { freshDatabase, WriteWatcher, type Snapshot } from '../support/db';
import { createTenant, expectContractAnswer, type Tenant } from '../support/hostile';

interface Op {
  method: string;
  path: string;
}

const SEED = Number(process.env.FC_SEED ?? 424242);
const RUNS = Number(process.env.FC_RUNS ?? 800);
const doc = JSON.parse(readFileSync(join(process.cwd(), 'openapi.json'), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
const OPS: Op[] = Object.entries(doc.paths).flatMap(([path, methods]) =>
  Object.keys(methods).map((m) => ({ method: m.toUpperCase(), path })),
);

const FIELDS = [
  'name',
  'email',
  'password',
  'loginId',
  'externalRef',
  'userId',
  'fromUserId',
  'toUserId',
  'amount',
  'reason',
  'symbol',
  'decimals',
  'issuerId',
  'operatorId',
  'currentPassword',
  'newPassword',
  // Staff, API keys, applications, TOTP, control changes, media custody.
  'roles',
  'status',
  'activationCode',
  'otp',
  'code',
  'firmName',
  'ownerStaffId',
  'expiresAt',
  'kind',
  'location',
  'custodian',
  'witness',
  'note',
  'comment',
];
const MAX_UINT256 = (2n ** 256n - 1n).toString();
const boundary = fc.constantFrom(
  '',
  ' ',
  '0',
  '-1',
  '1',
  '1.5',
  '1e3',
  '0x10',
  ' 1',
  '１',
  MAX_UINT256,
  (2n ** 256n).toString(),
  '\u0000',
  '\u202e',
  '山田花子',
  '<script>alert(1)</script>',
  "' OR '1'='1' --",
  '${jndi:ldap://x}',
  '0x0000000000000000000000000000000000000000',
  '0xd8da6bf26964af9d7eed9e10e49a1cd0d7f37',
  '00000000-0000-4000-8000-000000000000',
  'a'.repeat(257),
  'x'.repeat(10_000),
);

/** A body, printed shortened in a counterexample (some are 200 kB). */
interface Payload {
  text: string;
}
const payload = (text: string): Payload =>
  ({
    text,
    [fc.toStringMethod]: () => JSON.stringify(text.length > 160 ? `${text.slice(0, 120)}… (${text.length} chars)` : text),
  }) as Payload;

describe('hostile input over every route', () => {
  let t: TestApp;
  let watcher: WriteWatcher;
  let a: Tenant;
  let b: Tenant;
  let ids: string[];
  const creds: Record<string, string | undefined> = {};

  const relogin = async () => {
    creds.opA = `Bearer ${await login(t.url, a.op.loginId, a.op.password)}`;
    creds.opB = `Bearer ${await login(t.url, b.op.loginId, b.op.password)}`;
  };

  beforeAll(async () => {
    const db = await freshDatabase('fuzz');
    // No audit anchor during the run: an anchor is a transaction of its own, which the write watcher would count.
    t = await createTestApp({ env: { DATABASE_URL: db, AUDIT_ANCHOR_INTERVAL: '1h' } });
    const admin = await adminToken(t.url);
    a = await createTenant(t.url, admin, 'fza');
    b = await createTenant(t.url, admin, 'fzb');
    const issuer = await http(t.url, 'POST', '/v1/issuers', { token: admin, body: { name: 'ファズ発行体' } });
    await http(t.url, 'POST', `/v1/issuers/${issuer.body.id}/operators`, { token: admin, body: { operatorId: a.op.id } });
    const adminId = (await http(t.url, 'GET', '/v1/auth/me', { token: admin })).body.id as string;
    ids = [
      a.userId,
      a.pendingUserId,
      a.tokenId,
      a.txId,
      a.op.id,
      b.userId,
      b.pendingUserId,
      b.tokenId,
      b.txId,
      b.op.id,
      issuer.body.id,
      adminId,
    ];
    const key = t.config.auth.jwtSigningKey;
    const jwt = (claims: object, k: string) => {
      const input = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      return `Bearer ${input}.${createHmac('sha256', k).update(input).digest('base64url')}`;
    };
    const now = Math.floor(Date.now() / 1000);
    Object.assign(creds, {
      none: undefined,
      garbage: 'Bearer eyJhbGciOiJub25lIn0.e30.',
      wrongKey: jwt(
        { sub: adminId, typ: 'admin', tv: 1, jti: randomUUID(), iat: now, exp: now + 3600 },
        'not-the-key-0123456789abcdef0123456789',
      ),
      expired: jwt({ sub: adminId, typ: 'admin', tv: 1, jti: randomUUID(), iat: now - 7200, exp: now - 3600 }, key),
      admin: `Bearer ${admin}`,
    });
    await relogin();
    // A back-office system of tenant A: an API key with the maker role (sent as X-API-Key).
    const apiKey = await http(t.url, 'POST', '/v1/api-keys', {
      token: creds.opA!.slice(7),
      body: { name: 'fuzz back office', roles: ['maker'] },
    });
    expect(apiKey.status, apiKey.text).toBe(201);
    creds.keyA = apiKey.body.key as string;
    watcher = await WriteWatcher.open(db);
  }, 240_000);
  afterAll(async () => {
    await watcher?.close();
    await t?.close();
  });

  /** Arbitraries over the real ids of this run (built after beforeAll). */
  function arbitraries() {
    // The ids a placeholder names: most often a real one of the right kind, of either tenant.
    const typed: Record<string, string[]> = {
      tokens: [a.tokenId, b.tokenId],
      users: [a.userId, a.pendingUserId, b.userId, b.pendingUserId],
      transactions: [a.txId, b.txId],
      operators: [a.op.id, b.op.id],
      issuers: [ids[10]!],
    };
    const id = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...ids) },
      { weight: 2, arbitrary: fc.uuid() },
      { weight: 2, arbitrary: boundary },
      { weight: 1, arbitrary: fc.constantFrom('null', '%00', '..%2F..', '%2e%2e', 'a'.repeat(300), `${ids[0]}%20`, ids[0]!.toUpperCase()) },
      { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    );
    const placeholderIds = (path: string, realWeight = 6) => {
      const names = [...path.matchAll(/([a-z-]+)\/\{([A-Za-z]+)\}/g)].map(([, resource, param]) =>
        param === 'userId' ? 'users' : param === 'operatorId' ? 'operators' : resource!,
      );
      return fc.tuple(
        ...names.map((r) =>
          fc.oneof({ weight: realWeight, arbitrary: typed[r] ? fc.constantFrom(...typed[r]) : fc.uuid() }, { weight: 4, arbitrary: id }),
        ),
      );
    };
    const value = fc.oneof(
      { weight: 3, arbitrary: boundary },
      { weight: 3, arbitrary: fc.constantFrom(...ids) },
      { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
      { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
      { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 300n), max: 2n ** 300n }).map(String) },
      { weight: 1, arbitrary: fc.integer() },
      { weight: 1, arbitrary: fc.double() },
      {
        weight: 1,
        arbitrary: fc.oneof(
          fc.boolean(),
          fc.constant(null),
          fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
          fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
        ),
      },
      { weight: 1, arbitrary: fc.emailAddress() },
    );
    // Near-valid bodies reach past validation into lookups and pre-checks: the route's
    // valid shape with real ids, then up to two fields replaced, dropped or added.
    const templates = (path: string): Record<string, unknown> => {
      if (path === '/v1/auth/login') return { loginId: 'fuzz-nobody', password: 'fuzz-password-1' };
      if (path === '/v1/auth/password') return { currentPassword: 'not-the-password-1', newPassword: 'fuzz-new-password-1' };
      if (path === '/v1/operators') return { name: 'ファズ証券', email: 'fuzz@example.jp', password: 'fuzz-password-123' };
      if (path === '/v1/users') return { name: 'ファズ 太郎', email: 'fuzz@example.jp', externalRef: 'fuzz-1' };
      if (path === '/v1/issuers') return { name: 'ファズ発行体' };
      if (path === '/v1/operator-applications') return { firmName: 'ファズ申請', email: 'fuzz@example.jp', password: 'fuzz-password-123' };
      if (path === '/v1/api-keys') return { name: 'fuzz key', roles: ['maker'] };
      if (path.endsWith('/staff')) return { loginId: 'fuzz-staff', name: 'ファズ', email: 'fuzz@example.jp', roles: ['viewer'] };
      if (path === '/v1/auth/activate') return { loginId: 'fuzz-staff', activationCode: 'fuzz-code', newPassword: 'fuzz-password-123' };
      if (path.endsWith('/events')) return { kind: 'stored', custodian: 'ファズ', location: 'vault' };
      if (path.endsWith('/operators')) return { operatorId: b.op.id };
      if (path.endsWith('/wallet')) return { reason: '紛失' };
      if (path === '/v1/tokens') return { name: 'Fuzz', symbol: 'FZ', decimals: 0 };
      if (path.endsWith('/forced-transfer')) return { fromUserId: a.userId, toUserId: a.pendingUserId, amount: '1', reason: 'x' };
      if (/\/(freeze|unfreeze|recover)$/.test(path)) return { userId: a.userId };
      if (/\/(issue|redeem|deposit|withdraw)$/.test(path)) return { userId: a.userId, amount: '1' };
      return {};
    };
    const nearValid = (path: string) =>
      fc
        .oneof(
          { weight: 2, arbitrary: fc.constant([] as Array<[string, string, unknown]>) },
          {
            weight: 3,
            arbitrary: fc.array(fc.tuple(fc.constantFrom('replace', 'drop', 'add'), fc.constantFrom(...FIELDS, 'unknownField'), value), {
              minLength: 1,
              maxLength: 2,
            }),
          },
        )
        .map((edits) => {
          const v: Record<string, unknown> = { ...templates(path) };
          for (const [kind, field, x] of edits) {
            const keys = Object.keys(v);
            const target = kind === 'add' ? field : (keys[field.length % Math.max(keys.length, 1)] ?? field);
            if (kind === 'drop') delete v[target];
            else v[target] = x;
          }
          return JSON.stringify(v);
        });
    const body = fc.dictionary(
      fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...FIELDS) },
        { weight: 1, arbitrary: fc.constantFrom('unknownField', '__proto__', 'constructor', 'prototype', '') },
      ),
      value,
      { maxKeys: 5 },
    );
    const rawBody = (path: string) =>
      fc
        .oneof(
          { weight: 6, arbitrary: nearValid(path) },
          { weight: 4, arbitrary: body.map((v) => JSON.stringify(v)) },
          { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              '{',
              '[',
              '{"a":',
              'null',
              '"str"',
              '{"__proto__":{"admin":true}}',
              '{"constructor":{"prototype":{"polluted":true}}}',
              '{"amount":1e400}',
              '\ufeff{}',
            ),
          },
          { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
          // Over the 100 kB body limit, and deep nesting under it.
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              JSON.stringify({ name: 'x'.repeat(200_000) }),
              `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`,
              `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
            ),
          },
        )
        .map(payload);
    const query = fc.oneof(
      { weight: 1, arbitrary: fc.constant({}) },
      {
        weight: 1,
        arbitrary: fc.dictionary(
          fc.constantFrom(
            'limit',
            'cursor',
            'walletStatus',
            'status',
            'kind',
            'from',
            'to',
            'blockNumber',
            'reissue',
            'tokenId',
            'userId',
            'actor',
            'action',
            'actorType',
            'legalBasisCode',
            'batchId',
            'chain',
            'fromSeq',
            'limit[]',
            'tokenId[$ne]',
          ),
          fc.oneof(
            boundary,
            fc.constantFrom(...ids),
            fc.string({ maxLength: 30 }),
            fc.integer().map(String),
            fc.constantFrom('-1', '0', '101', '1e2', 'NaN', 'true'),
          ),
          { maxKeys: 3 },
        ),
      },
    );
    const validKey = fc.stringMatching(/^[\x21-\x7e]{1,40}$/);
    const headers = fc.record({
      contentType: fc.oneof(
        { weight: 6, arbitrary: fc.constant<string | undefined>('application/json') },
        {
          weight: 2,
          arbitrary: fc.constantFrom(
            'text/plain',
            undefined,
            'application/x-www-form-urlencoded',
            'application/json; charset=latin1',
            'application/json; charset=utf-8',
            'application/merge-patch+json',
          ),
        },
      ),
      prefer: fc.constantFrom(undefined, undefined, undefined, 'wait=1', 'wait=99999', 'wait=99999999999', 'wait=abc', 'wait=-1'),
      idem: fc.option(
        fc.oneof(
          { weight: 3, arbitrary: validKey },
          { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
          { weight: 1, arbitrary: fc.constantFrom('k'.repeat(255), 'k'.repeat(256), 'fuzz-key', '') },
        ),
        {
          nil: undefined,
          freq: 2,
        },
      ),
      requestId: fc.option(fc.string({ maxLength: 140 }), { nil: undefined, freq: 2 }),
    });
    // Valid principals, well-formed requests: what is refused here is refused late (lookups, pre-checks).
    const politeHeaders = fc.record({
      contentType: fc.constant<string | undefined>('application/json'),
      prefer: fc.constantFrom(undefined, 'wait=5'),
      idem: fc.option(validKey, { nil: undefined }),
      requestId: fc.constant(undefined),
    });
    return { placeholderIds, rawBody, nearValid, query, headers, politeHeaders };
  }

  const codes = new Map<string, number>();
  const tally = { cases: 0, refused: 0, accepted: 0, fiveHundreds: 0 };
  let before: Snapshot | undefined;
  /** Whether pipeline work was pending when `before` was taken (it may have committed since). */
  let pendingAtBefore = false;
  const pipelinePending = async () => (await watcher.busy()) || (await watcher.jobsDue());

  /** One request; the checks of the file's header. */
  async function runCase(
    op: Op,
    who: string,
    pathIds: string[],
    text: string,
    q: Record<string, string>,
    h: { contentType?: string; prefer?: string; idem?: string; requestId?: string },
  ): Promise<void> {
    if (!before) {
      before = await watcher.quiet();
      pendingAtBefore = await pipelinePending();
    }
    // Work an earlier accepted case left in the pipeline (a row backing off) may commit between
    // the snapshot before and the one after this case: it can only touch the pipeline's own tables.
    const inFlight = pendingAtBefore || (await pipelinePending());
    let i = 0;
    const path = op.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(pathIds[i++]!));
    const qs = new URLSearchParams(q).toString();
    const hdrs: Record<string, string> = {};
    if (h.contentType) hdrs['content-type'] = h.contentType;
    if (who === 'keyA') hdrs['x-api-key'] = creds.keyA!;
    else if (creds[who]) hdrs.authorization = creds[who];
    if (h.prefer) hdrs.prefer = h.prefer;
    // fetch sends only visible ASCII and spaces in headers; the raw-socket cases are in hostile-headers.
    const ascii = (s: string | undefined) => s !== undefined && /^[\x20-\x7e]*$/.test(s);
    if (ascii(h.idem)) hdrs['idempotency-key'] = h.idem!;
    if (ascii(h.requestId)) hdrs['x-request-id'] = h.requestId!;
    const label = `${who} ${op.method} ${path}${qs ? `?${qs}` : ''} ${text.slice(0, 120)}`;
    const res = await fetch(`${t.url}${path}${qs ? `?${qs}` : ''}`, {
      method: op.method,
      headers: hdrs,
      body: op.method === 'GET' ? undefined : text,
    });
    const answer = await res.text();
    tally.cases++;
    if (res.status >= 500) tally.fiveHundreds++;
    let json: any;
    try {
      json = JSON.parse(answer);
    } catch {
      json = undefined;
    }
    expectContractAnswer(label, res.status, res.headers.get('content-type'), json);
    if (res.status >= 400) {
      tally.refused++;
      codes.set(json.code, (codes.get(json.code) ?? 0) + 1);
      const pendingAtAfter = await pipelinePending();
      const after = await watcher.snapshot();
      // The pipeline's tables, and those a key rotation (started by an earlier accepted case) writes step by step.
      const PIPELINE = [
        'public.transactions',
        'public.tokens',
        'public.signer_nonces',
        'public.custody_entries',
        'public.rotations',
        'public.rotation_steps',
        'public.signer_holds',
        'public.operators',
        'public.issuers',
        // A batch's or an order's rows follow their lots' transactions.
        'public.batches',
        'public.batch_items',
        'public.orders',
      ];
      const written = WriteWatcher.changed(before, after).filter((tbl) => !(inFlight && PIPELINE.includes(tbl)));
      // A write of this request's own would carry a timestamp at or after `before` (its database
      // transaction began after that snapshot); a pipeline row whose updated_at is older was written
      // by a transaction already open before the snapshot (committed since), so it is not this request's.
      if (written.includes('public.transactions') && !(await watcher.transactionsTouchedSince(before)))
        written.splice(written.indexOf('public.transactions'), 1);
      if (written.length)
        expect(written, `${label}: tables written by a refused request ${await watcher.changesSince(before)}`).toEqual([]);
      expect(await watcher.auditSuccessesSince(before), `${label}: audit events of a refused request`).toEqual([]);
      before = after;
      pendingAtBefore = pendingAtAfter;
      return;
    }
    tally.accepted++;
    codes.set(String(res.status), (codes.get(String(res.status)) ?? 0) + 1);
    // An accepted suspension revokes the tenant's token: resume it and log in again.
    if (/\/suspend$/.test(path)) {
      await http(t.url, 'POST', path.replace(/suspend$/, 'resume'), { token: creds.admin!.slice(7) });
      await relogin();
    }
    before = await watcher.quiet();
    pendingAtBefore = await pipelinePending();
  }

  function report(name: string, runs: number): void {
    process.stderr.write(
      `[hostile input] ${name}: ${tally.cases} cases, ${tally.refused} refused (none wrote a row), ${tally.accepted} accepted, ${tally.fiveHundreds} answers >= 500\n`,
    );
    process.stderr.write(
      `[hostile input] ${name} answers: ${[...codes]
        .sort((x, y) => y[1] - x[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}\n`,
    );
    expect(tally.cases).toBe(runs);
    expect(tally.fiveHundreds).toBe(0);
    expect(tally.accepted).toBeGreaterThan(0);
    codes.clear();
    Object.assign(tally, { cases: 0, refused: 0, accepted: 0, fiveHundreds: 0 });
  }

  it('never answers 5xx, renders every error as problem+json with a contract code, and writes nothing when it refuses', async () => {
    const arb = arbitraries();
    process.stderr.write(`[hostile input] fast-check seed ${SEED}, ${RUNS} runs (FC_SEED, FC_RUNS override)\n`);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...OPS).chain((op) => fc.tuple(fc.constant(op), arb.rawBody(op.path), arb.placeholderIds(op.path))),
        fc.constantFrom('none', 'garbage', 'wrongKey', 'expired', 'admin', 'admin', 'opA', 'opA', 'opA', 'opB', 'opB', 'keyA'),
        arb.query,
        arb.headers,
        async ([op, body, pathIds], who, q, h) => runCase(op, who, pathIds, body.text, q, h),
      ),
      // Cases depend on the state earlier cases left: report the first failure as is, unshrunk.
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    // The fuzz reaches past authentication: validation, lookups and pre-checks all answer.
    for (const code of ['UNAUTHENTICATED', 'FORBIDDEN', 'VALIDATION_FAILED', 'NOT_FOUND', 'PAYLOAD_TOO_LARGE'])
      expect(codes.get(code) ?? 0, code).toBeGreaterThan(0);
    report('every route', RUNS);
  }, 240_000);

  it('refuses late without writing: valid principals, well-formed near-valid writes', async () => {
    const arb = arbitraries();
    before = undefined;
    const writes = OPS.filter((o) => o.method !== 'GET');
    const runs = Math.round(RUNS / 2);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...writes).chain((op) => fc.tuple(fc.constant(op), arb.nearValid(op.path), arb.placeholderIds(op.path, 30))),
        fc.constantFrom('admin', 'opA', 'opA', 'opB', 'keyA'),
        arb.politeHeaders,
        async ([op, body, pathIds], who, h) => runCase(op, who, pathIds, body, {}, h),
      ),
      { numRuns: runs, seed: SEED + 1, endOnFailure: true },
    );
    // Refusals of the late kind happened, not only validation.
    const late = [...codes.keys()].filter(
      (c) => !['UNAUTHENTICATED', 'FORBIDDEN', 'VALIDATION_FAILED', 'NOT_FOUND', '200', '201', '202', '204'].includes(c),
    );
    expect(late.length, [...codes.keys()].join(', ')).toBeGreaterThan(0);
    report('near-valid writes', runs);
  }, 240_000);
});
