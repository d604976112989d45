import { describe, expect, it } from 'vitest';
import { backoffMs, errorLine, nextRun, scheduleSpec } from './job-types';

describe('backoffMs', () => {
  it('doubles from the base per failed attempt and stops at the cap', () => {
    const b = { baseMs: 1000, maxMs: 10_000 };
    const none = () => 0;
    expect([1, 2, 3, 4, 5, 9].map((a) => backoffMs(a, b, none))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('adds at most 10 % jitter', () => {
    expect(backoffMs(1, { baseMs: 1000, maxMs: 1000 }, () => 0.999)).toBe(1100);
  });
});

describe('errorLine', () => {
  it('keeps one line and removes credentials, bearer tokens and key-shaped runs', () => {
    const key = `0x${'7f'.repeat(32)}`;
    const line = errorLine(new Error(`connect to smtps://mailer:s3cret@smtp.example failed, Bearer abc.def.ghi, key ${key}\n    at stack`));
    expect(line).toBe('connect to smtps://[redacted]@smtp.example failed, Bearer [redacted] key [redacted]');
  });

  it('names non-generic errors, caps the length and survives non-errors', () => {
    expect(errorLine(new TypeError('bad'))).toBe('TypeError: bad');
    expect(errorLine('x'.repeat(10)).length).toBe(10);
    expect(errorLine(new Error('word '.repeat(200))).length).toBe(300);
    expect(errorLine(new Error(''))).toBe('failed');
  });
});

describe('schedules', () => {
  it('stores fixed intervals and cron specs and finds the next slot in UTC', () => {
    expect(scheduleSpec({ everyMs: 60_000 })).toBe('every 60000ms');
    expect(scheduleSpec({ cron: '*/15 * * * *' })).toBe('cron */15 * * * *');
    const at = new Date('2026-12-01T10:07:30Z');
    expect(nextRun('every 60000ms', at).toISOString()).toBe('2026-12-01T10:08:30.000Z');
    expect(nextRun('cron */15 * * * *', at).toISOString()).toBe('2026-12-01T10:15:00.000Z');
    expect(nextRun('cron 17 3 * * *', at).toISOString()).toBe('2026-12-02T03:17:00.000Z');
  });

  it('refuses a bad cron expression or a too short interval at registration', () => {
    expect(() => scheduleSpec({ cron: 'every tuesday' })).toThrow();
    expect(() => scheduleSpec({ everyMs: 5 })).toThrow('everyMs');
  });
});
