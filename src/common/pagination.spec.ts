import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './pagination';

const ID = '5f7c2a55-0a7d-4b57-9d1e-7c9b7b5b0b11';

describe('pagination cursor', () => {
  it('round-trips the microsecond timestamp the database gives', () => {
    const c = encodeCursor('2026-12-01T07:06:07.123456Z', ID);
    expect(decodeCursor(c)).toEqual({ t: '2026-12-01T07:06:07.123456Z', id: ID });
    expect(decodeCursor(encodeCursor(new Date('2026-12-01T07:06:07.123Z'), ID)).t).toBe('2026-12-01T07:06:07.123Z');
  });

  it('refuses a timestamp in any other form, and an id that is no uuid (both are compared in SQL)', () => {
    for (const t of ['1', '2026-12-01', 'Tue, 01 Dec 2026 07:06:07 GMT', '2026-12-01T07:06:07.1234567Z', '2026-12-01T07:06:07+09:00']) {
      const c = Buffer.from(JSON.stringify({ t, id: ID })).toString('base64url');
      expect(() => decodeCursor(c), t).toThrow();
    }
    expect(() => decodeCursor(encodeCursor('2026-12-01T07:06:07.123456Z', 'not-a-uuid'))).toThrow();
  });
});
