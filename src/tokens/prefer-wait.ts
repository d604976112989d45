/** RFC 7240 `Prefer: wait=N` and the headers token routes document. */

/** `Prefer: wait=N`, clamped to 60 s. */
export function preferWait(header: string | undefined): number | undefined {
  // Any number of digits: a huge wait is clamped, not ignored (Number() of a long run is Infinity at worst).
  const m = header ? /(?:^|[;,\s])wait=(\d+)(?:$|[;,\s])/.exec(header) : null;
  return m?.[1] ? Math.min(60, Number(m[1])) : undefined;
}

export const IDEMPOTENCY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description: 'same key + same body → the original answer; kept 24 h',
};
export const PREFER_HEADER = {
  name: 'Prefer',
  required: false,
  description: 'wait=N (≤ 60): answer 200 once the transaction is final, or 202 after N seconds',
};
