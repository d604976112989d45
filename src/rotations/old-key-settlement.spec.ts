/**
 * The settlement's decisions (when to wait, which nonces to consume, at what fee, when the old
 * key counts as refused). Chain, queue and KMS are stand-ins here; the effects on a real node
 * are tested in test/e2e/rotation-settle.e2e-spec.ts.
 */
import { parseTransaction, type Hex, type TransactionSerializableEIP1559 } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import type { ChainService } from '../chain/chain.service';
import type { GasFunding } from '../chain/gas-funding';
import type { AppConfig } from '../config/app-config';
import { KeyIntegrityError, KmsUnavailableError } from '../kms/key-management';
import type { SealedKeyStores } from '../kms/sealed-key-stores';
import type { SigningKeys } from '../kms/signing-keys';
import type { TransactionQueue } from '../transactions/queue';
import { OldKeySettlement, type OldSigner } from './old-key-settlement';

// A throwaway test key (not a secret of anything).
const account = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
const GWEI = 1_000_000_000n;

function setup(o: { rows: Array<{ id: string; nonce: number }>; mined: number; open?: () => Promise<void> }) {
  const sent: Hex[] = [];
  const signed: TransactionSerializableEIP1559[] = [];
  const queue = { signedInFlightFrom: async () => o.rows } as unknown as TransactionQueue;
  const chain = {
    pipeline: { getTransactionCount: async () => o.mined, getBalance: async () => 10n ** 18n },
    sender: {
      sendRawTransaction: async ({ serializedTransaction }: { serializedTransaction: Hex }) => {
        sent.push(serializedTransaction);
        return '0x';
      },
    },
    chain: async () => ({ id: 31337 }),
  } as unknown as ChainService;
  const gas = { enabled: false } as unknown as GasFunding;
  const stores = { load: async () => ({ address: account.address }) } as unknown as SealedKeyStores;
  const keys = {
    withSigner: async (_o: unknown, _s: unknown, _a: unknown, fn: (a: unknown) => Promise<unknown>) => {
      await o.open?.();
      return fn({
        signTransaction: async (tx: TransactionSerializableEIP1559) => {
          signed.push(tx);
          return account.signTransaction(tx);
        },
      });
    },
  } as unknown as SigningKeys;
  const config = { chain: { fees: { maxFeeWei: 500n * GWEI, bumpPercent: 25, stuckAfterSeconds: 2 } } } as unknown as AppConfig;
  const s = new OldKeySettlement(queue, chain, gas, keys, stores, config);
  return { s, sent, signed };
}

const signer = (heldAgoMs: number): OldSigner => ({
  rotationId: 'r1',
  kind: 'operator',
  id: 'op1',
  address: account.address,
  operatorId: 'op1',
  heldAt: new Date(Date.now() - heldAgoMs),
});

describe('OldKeySettlement', () => {
  it('is settled when the old key has nothing unfinished, and waits (consuming nothing) within 3 × TX_STUCK_AFTER_SECONDS', async () => {
    expect(await setup({ rows: [], mined: 4 }).s.settle(signer(60_000))).toEqual({ state: 'settled' });
    const x = setup({ rows: [{ id: 'a', nonce: 4 }], mined: 4 });
    expect(await x.s.settle(signer(5_000))).toEqual({ state: 'waiting' });
    expect(x.sent).toHaveLength(0);
  });

  it('consumes only the nonces the chain has not used, with 0-value self-transfers above the fee cap on both fields', async () => {
    const x = setup({
      rows: [
        { id: 'a', nonce: 3 },
        { id: 'b', nonce: 4 },
        { id: 'c', nonce: 5 },
      ],
      mined: 4,
    });
    expect(await x.s.settle(signer(7_000))).toEqual({ state: 'waiting' });
    expect(x.signed.map((t) => t.nonce)).toEqual([4, 5]);
    for (const raw of x.sent) {
      const tx = parseTransaction(raw);
      expect(tx.to?.toLowerCase()).toBe(account.address.toLowerCase());
      expect(tx.value ?? 0n).toBe(0n);
      expect(tx.gas).toBe(21_000n);
      // Above FEE_MAX_GWEI by the bump: no fee the pipeline signs (capped there) can be replaced by it, or replace it.
      expect(tx.maxFeePerGas).toBe(625n * GWEI + 1n);
      expect(tx.maxPriorityFeePerGas).toBe(625n * GWEI + 1n);
    }
  });

  it('signs the same bytes again after a restart (a fresh instance), so a nonce never gets two different self-transfers', async () => {
    const rows = [{ id: 'b', nonce: 4 }];
    const first = setup({ rows, mined: 4 });
    await first.s.settle(signer(7_000));
    const again = setup({ rows, mined: 4 });
    await again.s.settle(signer(7_000));
    expect(again.sent).toEqual(first.sent);
    // Within the same process the consumption is not re-signed at every job attempt.
    await first.s.settle(signer(7_000));
    expect(first.sent).toHaveLength(1);
  });

  it('calls the key refused when its envelope does not authenticate or KMS names it disabled, and only after a further wait when KMS is just unreachable', async () => {
    const tampered = setup({
      rows: [{ id: 'b', nonce: 4 }],
      mined: 4,
      open: () => Promise.reject(new KeyIntegrityError('envelope does not authenticate under this context')),
    });
    expect(await tampered.s.settle(signer(7_000))).toMatchObject({ state: 'refused' });
    const disabled = setup({
      rows: [{ id: 'b', nonce: 4 }],
      mined: 4,
      open: () => Promise.reject(new KmsUnavailableError('The key management service is unavailable (DisabledException); try again later')),
    });
    expect(await disabled.s.settle(signer(7_000))).toMatchObject({ state: 'refused' });
    const down = setup({
      rows: [{ id: 'b', nonce: 4 }],
      mined: 4,
      open: () => Promise.reject(new KmsUnavailableError()),
    });
    await expect(down.s.settle(signer(7_000))).rejects.toThrow(KmsUnavailableError);
    expect(down.sent).toHaveLength(0);
  });
});
