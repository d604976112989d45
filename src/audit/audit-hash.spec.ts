import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { anchorDigest, eventHash, GENESIS_HASH, jcs } from './audit-hash';
import { checkExport } from './export-check';

describe('audit hashing rules', () => {
  it('canonicalizes per RFC 8785 (the example of section 3.2.2)', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    ) as unknown;
    expect(jcs(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('hashes prevHash + "\\n" + JCS(event), over exactly the contract\'s fields', () => {
    const event = {
      seq: 1,
      prevHash: GENESIS_HASH,
      chain: 'platform',
      id: '8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10',
      at: '2026-12-01T20:00:00.123456Z',
      actor: { type: 'admin', id: 'a1' },
      action: 'auth.login',
      subject: null,
      outcome: 'success',
      details: { z: 1, a: 'b' },
      requestId: null,
    };
    const expected = createHash('sha256')
      .update(
        `${GENESIS_HASH}\n{"action":"auth.login","actor":{"id":"a1","type":"admin"},"at":"2026-12-01T20:00:00.123456Z","chain":"platform","details":{"a":"b","z":1},"id":"8d0c4c1e-5b8e-4f2b-9a55-0d6e1b3c2a10","outcome":"success","prevHash":"${GENESIS_HASH}","requestId":null,"seq":1,"subject":null}`,
      )
      .digest('hex');
    expect(eventHash(event)).toBe(expected);
    // Extra fields (such as `hash` itself) are never hashed.
    expect(eventHash({ ...event, hash: 'x' } as typeof event)).toBe(expected);
    expect(eventHash({ ...event, details: { z: 2, a: 'b' } })).not.toBe(expected);
  });

  it('digests the sorted chain:seq:hash lines joined by newlines', () => {
    const heads = [
      { chain: 'platform', seq: 3, hash: 'c'.repeat(64) },
      { chain: '0a', seq: 10, hash: 'd'.repeat(64) },
    ];
    const lines = `0a:10:${'d'.repeat(64)}\nplatform:3:${'c'.repeat(64)}`;
    expect(anchorDigest(heads)).toBe(createHash('sha256').update(lines).digest('hex'));
  });

  it('checks an export: continuity, links and content', () => {
    const e1 = {
      seq: 1,
      prevHash: GENESIS_HASH,
      chain: 'f',
      id: 'i1',
      at: 't',
      actor: { type: 'system', id: null },
      action: 'a',
      subject: null,
      outcome: 'success',
      details: {},
      requestId: null,
    };
    const h1 = eventHash(e1);
    const e2 = { ...e1, seq: 2, prevHash: h1, id: 'i2' };
    const h2 = eventHash(e2);
    const good = [JSON.stringify({ ...e1, hash: h1 }), JSON.stringify({ ...e2, hash: h2 })].join('\n');
    expect(checkExport(good).problems).toEqual([]);
    const gap = [JSON.stringify({ ...e1, hash: h1 }), JSON.stringify({ ...e2, seq: 3, hash: h2 })].join('\n');
    expect(checkExport(gap).problems).toContain('seq 2: missing (next line has seq 3)');
    const changed = [JSON.stringify({ ...e1, outcome: 'failure', hash: h1 }), JSON.stringify({ ...e2, hash: h2 })].join('\n');
    expect(checkExport(changed).problems).toEqual(['seq 1: content does not match its hash']);
  });
});
