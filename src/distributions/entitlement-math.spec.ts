import { describe, expect, it } from 'vitest';
import { endOfJstDay, entitlement, lastBlockAtOrBefore, parseYen } from './entitlement-math';

describe('distribution arithmetic', () => {
  it('parses yen per token with up to 4 decimals, exactly', () => {
    expect(parseYen('12.5')).toBe(125_000n);
    expect(parseYen('0.0001')).toBe(1n);
    expect(parseYen('3')).toBe(30_000n);
    for (const bad of ['1.23456', '-1', '1e3', '01', '1,000', '１', '']) expect(() => parseYen(bad)).toThrow();
  });

  it('floors gross and each withholding component to the yen', () => {
    // 12,345.67 tokens (decimals 2) × 33.3333 yen = 411,521.8… → 411,521; 15.315 % = 63,024.4… → 63,024; 5 % = 20,576.05 → 20,576.
    const a = entitlement(1_234_567n, parseYen('33.3333'), 2, 'individual');
    expect(a).toEqual({ gross: 411_521n, incomeTax: 63_024n, residentTax: 20_576n, withholding: 83_600n, net: 327_921n });
    const c = entitlement(1_234_567n, parseYen('33.3333'), 2, 'corporate');
    expect(c).toEqual({ gross: 411_521n, incomeTax: 63_024n, residentTax: 0n, withholding: 63_024n, net: 348_497n });
  });

  it('stays exact where floating point would not (no 0.1 + 0.2 drift, amounts past 2^53)', () => {
    const units = 2n ** 200n;
    const a = entitlement(units, parseYen('0.3'), 0, 'corporate');
    expect(a.gross).toBe((units * 3n) / 10n);
    expect(a.incomeTax).toBe((a.gross * 15_315n) / 100_000n);
    // 1,000 yen: income tax 153.15 → 153, resident tax 50.
    expect(entitlement(1000n, parseYen('1'), 0, 'individual')).toMatchObject({ incomeTax: 153n, residentTax: 50n, net: 797n });
  });

  it('ends a JST day at 14:59:59 UTC', () => {
    expect(endOfJstDay('2026-12-01')).toBe(BigInt(Date.parse('2026-12-01T14:59:59Z') / 1000));
  });
});

describe('record block search', () => {
  it('finds the last block at or before an instant', async () => {
    const ts = [100n, 100n, 105n, 110n, 110n, 130n];
    const at = (n: bigint) => Promise.resolve(ts[Number(n)]!);
    expect(await lastBlockAtOrBefore(at, 0n, 5n, 109n)).toBe(2n);
    expect(await lastBlockAtOrBefore(at, 0n, 5n, 110n)).toBe(4n);
    expect(await lastBlockAtOrBefore(at, 0n, 5n, 100n)).toBe(1n);
    expect(await lastBlockAtOrBefore(at, 0n, 5n, 999n)).toBe(5n);
  });
});
