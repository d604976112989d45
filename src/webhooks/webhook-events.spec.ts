import type { EntityManager } from 'typeorm';
import { describe, expect, it } from 'vitest';
import {
  publishBatchCompleted,
  publishRotationCompleted,
  publishWalletIssued,
  reportCustodyDrift,
  WEBHOOK_EVENTS_CHANNEL,
} from './webhook-events';

/** A strict fake: answers the outbox INSERT with `stored` rows and records pg_notify; anything else throws. */
function fakeEm(stored: number) {
  const inserts: unknown[][] = [];
  const notified: unknown[] = [];
  const em = {
    query: async (sql: string, params: unknown[]) => {
      if (sql.includes('INSERT INTO webhook_events')) {
        inserts.push(params);
        return Array.from({ length: stored }, (_, i) => ({ id: String(i) }));
      }
      if (sql.includes('pg_notify')) return void notified.push(params[0]);
      throw new Error(`unexpected query: ${sql.slice(0, 60)}`);
    },
  } as unknown as EntityManager;
  return { em, inserts, notified };
}

describe('webhook outbox writers', () => {
  it('batch.completed and rotation.completed go to the tenant given (null: platform endpoints)', async () => {
    const f = fakeEm(1);
    await publishBatchCompleted(f.em, 'firm-1', { id: 'b1', status: 'completed' });
    await publishRotationCompleted(f.em, null, { signer: '0xabc', kind: 'platform' });
    expect(f.inserts).toEqual([
      [['firm-1'], ['batch.completed'], [JSON.stringify({ id: 'b1', status: 'completed' })]],
      [[null], ['rotation.completed'], [JSON.stringify({ signer: '0xabc', kind: 'platform' })]],
    ]);
    expect(f.notified).toEqual([WEBHOOK_EVENTS_CHANNEL, WEBHOOK_EVENTS_CHANNEL]);
  });

  it('wakes the sequencer only when a subscriber made the event stick', async () => {
    const f = fakeEm(0);
    await publishWalletIssued(f.em, { userId: 'u1', operatorId: 'firm-1', address: '0x1', previousAddress: null });
    await publishWalletIssued(f.em, { userId: 'u1', operatorId: 'firm-1', address: '0x2', previousAddress: '0x1' });
    expect(f.inserts.map((p) => (p[1] as string[])[0])).toEqual(['wallet.issued', 'wallet.reissued']);
    expect(f.notified).toEqual([]);
  });

  it('reports a custody drift when it appears or changes, not on every reconciliation', async () => {
    const f = fakeEm(1);
    const run = (fn: (em: EntityManager) => Promise<unknown>) => fn(f.em);
    const drift = (onChain: bigint) =>
      reportCustodyDrift(run, {
        tokenId: 't-drift',
        operatorId: 'firm-1',
        custodyAddress: '0xc',
        onChainBalance: onChain,
        ledgerBalance: 100n,
      });
    await drift(100n);
    await drift(90n);
    await drift(90n);
    await drift(80n);
    await drift(100n);
    await drift(90n);
    const diffs = f.inserts.map((p) => (JSON.parse((p[2] as string[])[0]!) as { difference: string }).difference);
    expect(diffs).toEqual(['-10', '-20', '-10']);
  });
});
