/** Argument checks and the offline mode; delivery itself is tested on PostgreSQL in test/e2e/jobs.e2e-spec.ts. */
import type { EntityManager } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { assertChannel, notify, Notifier } from './notifier';

function recordingManager(): { em: EntityManager; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const em = {
    query: (sql: string, params: unknown[]) => {
      calls.push([sql, params]);
      return Promise.resolve([]);
    },
  } as unknown as EntityManager;
  return { em, calls };
}

describe('notify', () => {
  it('sends through pg_notify with bound parameters inside the given transaction', async () => {
    const { em, calls } = recordingManager();
    await notify(em, 'kagi_jobs', '42');
    expect(calls).toEqual([['SELECT pg_notify($1, $2)', ['kagi_jobs', '42']]]);
  });

  it('refuses channel names that are not plain identifiers (they are spliced into LISTEN) and long payloads', async () => {
    for (const bad of ['', 'Upper', 'a b', 'x;DROP TABLE jobs', '1abc', 'a'.repeat(64)]) expect(() => assertChannel(bad)).toThrow();
    const { em, calls } = recordingManager();
    await expect(notify(em, 'ok_channel', 'x'.repeat(1001))).rejects.toThrow('too long');
    expect(calls).toEqual([]);
  });
});

describe('Notifier offline (CLI --help)', () => {
  it('never connects, and waitFor still answers from its check', async () => {
    const n = new Notifier({ databaseUrl: 'postgres://nobody@127.0.0.1:1/none', offline: true });
    const sub = n.listen('kagi_jobs', () => undefined);
    await sub.ready;
    expect(n.connects).toBe(0);
    expect(await n.waitFor('kagi_jobs', () => Promise.resolve('found'), 50)).toBe('found');
    expect(await n.waitFor('kagi_jobs', () => Promise.resolve(undefined), 50)).toBeUndefined();
    await n.close();
  });
});
