import { describe, expect, it } from 'vitest';
import { bodyOf, retryDelayMs } from './webhook-dispatcher';

describe('retry schedule', () => {
  it('waits 5 s, then doubles, at most 10 min', () => {
    const delays = Array.from({ length: 10 }, (_, i) => retryDelayMs(i + 1, 5_000, 600_000) / 1000);
    expect(delays).toEqual([5, 10, 20, 40, 80, 160, 320, 600, 600, 600]);
  });

  it('keeps trying for 24 h: about 150 attempts before an endpoint is disabled', () => {
    let t = 0;
    let attempts = 1;
    while (t < 86_400_000) t += retryDelayMs(attempts++, 5_000, 600_000);
    expect(attempts).toBeGreaterThan(140);
    expect(attempts).toBeLessThan(160);
  });
});

describe('bodyOf', () => {
  it('is {type, timestamp, sequence, data}', () => {
    const body = bodyOf({ type: 'transaction.confirmed', occurred_at: '2026-12-01T00:00:00.123456Z', sequence: '42', data: { id: 'x' } });
    expect(JSON.parse(body)).toEqual({
      type: 'transaction.confirmed',
      timestamp: '2026-12-01T00:00:00.123456Z',
      sequence: 42,
      data: { id: 'x' },
    });
  });
});
