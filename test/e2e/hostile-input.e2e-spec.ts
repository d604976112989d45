/**
 * Hostile input, driven by the committed openapi.json: every route gets malformed,
 * oversized and wrongly typed bodies, odd path ids and query values, without, with a
 * wrong and with valid credentials. Nothing may answer ≥ 500, and every error must be
 * problem+json with a code from the contract's table. (A first slice of the reliability
 * suite; bounded in count and time.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/common/error-codes';
import { createTestApp, type TestApp } from '../support/app';
import { adminToken, createOperator } from '../support/api';

interface Op {
  method: string;
  path: string;
}

const doc = JSON.parse(readFileSync(join(process.cwd(), 'openapi.json'), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
const OPS: Op[] = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => ({ method: m.toUpperCase(), path })));

const idValue = fc.oneof(fc.uuid(), fc.constantFrom('0', '-1', 'null', '%00', '..%2F..', 'a'.repeat(300), '00000000-0000-4000-8000-000000000000'), fc.string({ maxLength: 40 }));
const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record({ name: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), amount: fc.oneof(fc.string(), fc.bigInt().map(String), fc.integer()), userId: fc.oneof(fc.uuid(), fc.string()), loginId: fc.string(), password: fc.string(), email: fc.string(), decimals: fc.oneof(fc.integer(), fc.string()), symbol: fc.string(), reason: fc.string({ maxLength: 600 }) }, { requiredKeys: [] }),
);
const rawBody = fc.oneof(
  jsonish.map((v) => JSON.stringify(v)),
  fc.constantFrom('{', '[', '{"a":', 'null', '"str"', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"polluted":true}}}'),
  fc.string({ maxLength: 200 }),
);

describe('hostile input over every route', () => {
  let t: TestApp;
  let tokens: Record<string, string | undefined>;
  let seen = 0;

  beforeAll(async () => {
    t = await createTestApp();
    const admin = await adminToken(t.url);
    const op = await createOperator(t.url, admin);
    tokens = { none: undefined, bad: 'Bearer eyJhbGciOiJub25lIn0.e30.', admin: `Bearer ${admin}`, operator: `Bearer ${op.token}` };
  });
  afterAll(async () => {
    await t?.close();
  });

  it('never answers 5xx and always renders errors as problem+json with a contract code', async () => {
    const codes = new Set(Object.keys(ERROR_CODES));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...OPS),
        fc.constantFrom('none', 'bad', 'admin', 'operator'),
        fc.array(idValue, { minLength: 2, maxLength: 2 }),
        rawBody,
        fc.dictionary(fc.constantFrom('limit', 'cursor', 'walletStatus', 'status', 'kind', 'from', 'to', 'blockNumber', 'reissue', 'tokenId'), fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String)), { maxKeys: 3 }),
        fc.constantFrom(undefined, 'wait=1', 'wait=99999999999', 'wait=abc'),
        fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
        async (op, who, ids, body, query, prefer, idemKey) => {
          let i = 0;
          const path = op.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(ids[i++ % ids.length]!));
          const qs = new URLSearchParams(query).toString();
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (tokens[who]) headers.authorization = tokens[who];
          if (prefer) headers.prefer = prefer;
          if (idemKey !== undefined && /^[\x20-\x7e]*$/.test(idemKey)) headers['idempotency-key'] = idemKey;
          const res = await fetch(`${t.url}${path}${qs ? `?${qs}` : ''}`, { method: op.method, headers, body: op.method === 'GET' ? undefined : body });
          const text = await res.text();
          seen++;
          expect(res.status, `${op.method} ${path} → ${res.status}: ${text.slice(0, 200)}`).toBeLessThan(500);
          if (res.status >= 400) {
            expect(res.headers.get('content-type') ?? '').toContain('application/problem+json');
            const problem = JSON.parse(text) as { code: string; status: number };
            expect(codes.has(problem.code), problem.code).toBe(true);
            expect(problem.status).toBe(res.status);
          }
        },
      ),
      { numRuns: 600, seed: Number(process.env.FC_SEED ?? 424242) },
    );
    expect(seen).toBeGreaterThanOrEqual(600);
  }, 240_000);
});
