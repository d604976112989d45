import type { EntityManager } from 'typeorm';
import { describe, expect, it } from 'vitest';
import {
  publishBatchCompleted,
  publishRotationCompleted,
  publishWalletIssued,
  reportCustodyDrift,
  WEBHOOK_EVENTS_CHANNEL,
} from './webhook-events';

/**
 * A strict fake: answers the outbox statement (the INSERT, with its wake-up of the sequencer on
 * the channel in its last parameter) with `stored`; any other statement throws. Whether the
 * wake-up fires only when something was stored is the statement's own SQL, run for real by the
 * webhooks e2e.
 */
function fakeEm(stored: number) {
  const inserts: unknown[][] = [];
  const channels: unknown[] = [];
  const em = {
    query: async (sql: string, params: unknown[]) => {
      if (sql.includes('INSERT INTO webhook_events') && sql.includes('pg_notify($4')) {
        inserts.push(params.slice(0, 3));
        channels.push(params[3]);
        return [{ stored }];
      }
      throw new Error(`unexpected query: ${sql.slice(0, 60)}`);
    },
  } as unknown as EntityManager;
  return { em, inserts, channels };
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
    expect(f.channels).toEqual([WEBHOOK_EVENTS_CHANNEL, WEBHOOK_EVENTS_CHANNEL]);
  });

  it('a wallet issued for the first time is wallet.issued, again wallet.reissued', async () => {
    const f = fakeEm(0);
    await expect(publishWalletIssued(f.em, { userId: 'u1', operatorId: 'firm-1', address: '0x1', previousAddress: null })).resolves.toBe(0);
    await publishWalletIssued(f.em, { userId: 'u1', operatorId: 'firm-1', address: '0x2', previousAddress: '0x1' });
    expect(f.inserts.map((p) => (p[1] as string[])[0])).toEqual(['wallet.issued', 'wallet.reissued']);
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
