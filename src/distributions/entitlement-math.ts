/**
 * Distribution arithmetic in exact integers (bigint): no floating point anywhere. Rates are
 * rationals — 15.315 % is 15315/100000, 5 % is 5/100 — and every component is floored to the yen,
 * as the contract and the tax office's rounding (円未満切捨て) ask.
 */
const INCOME_TAX = { num: 15_315n, den: 100_000n }; // 所得税 15 % + 復興特別所得税 0.315 %
const RESIDENT_TAX = { num: 5n, den: 100n }; // 住民税 5 % (individuals)
const PRICE_SCALE = 10_000n; // amountPerToken has at most 4 decimals

/** "12.5" → 125000 (yen × 10^4); refuses anything but digits with ≤ 4 decimals. */
export function parseYen(s: string): bigint {
  const m = /^(0|[1-9][0-9]{0,17})(?:\.([0-9]{1,4}))?$/.exec(s);
  if (!m) throw new Error(`not a yen amount with at most 4 decimals: ${s}`);
  return BigInt(m[1]!) * PRICE_SCALE + BigInt((m[2] ?? '').padEnd(4, '0'));
}

export interface Amounts {
  gross: bigint;
  incomeTax: bigint;
  residentTax: bigint;
  withholding: bigint;
  net: bigint;
}

/** gross = floor(units × amountPerToken ÷ 10^decimals); each tax component floored on its own. */
export function entitlement(units: bigint, pricePerToken: bigint, decimals: number, taxClass: 'individual' | 'corporate'): Amounts {
  const gross = (units * pricePerToken) / (10n ** BigInt(decimals) * PRICE_SCALE);
  const incomeTax = (gross * INCOME_TAX.num) / INCOME_TAX.den;
  const residentTax = taxClass === 'individual' ? (gross * RESIDENT_TAX.num) / RESIDENT_TAX.den : 0n;
  const withholding = incomeTax + residentTax;
  return { gross, incomeTax, residentTax, withholding, net: gross - withholding };
}

/** The instant 23:59:59 JST (UTC+9, no DST) ends on `date` (YYYY-MM-DD), in Unix seconds. */
export function endOfJstDay(date: string): bigint {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return BigInt(Date.UTC(y, m - 1, d, 23, 59, 59) / 1000 - 9 * 3600);
}

/** The last block at or before `t` (Unix seconds) in [lo, hi], given that block lo is at or before it. */
export async function lastBlockAtOrBefore(timestampOf: (n: bigint) => Promise<bigint>, lo: bigint, hi: bigint, t: bigint): Promise<bigint> {
  while (lo < hi) {
    const mid = (lo + hi + 1n) / 2n;
    if ((await timestampOf(mid)) <= t) lo = mid;
    else hi = mid - 1n;
  }
  return lo;
}
