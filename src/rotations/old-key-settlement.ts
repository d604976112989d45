/**
 * Settling the old key's signed work during a rotation (API contract, "Governance and key
 * lifecycle"): every transaction the old key signed reaches a final state — mined, or its nonce
 * consumed by a 0-value self-transfer; where the old key cannot be opened, the old address loses
 * the agent role first, so whatever it signed can only revert.
 *
 * The pipeline keeps re-broadcasting and fee-bumping the old rows while the rotation waits
 * (`waitMs`, three times TX_STUCK_AFTER_SECONDS: the pipeline has had its bumps). A row still not
 * mined then has its nonce consumed here:
 * - The self-transfer pays `consumeFee` on both fee fields: FEE_MAX_GWEI raised by
 *   FEE_BUMP_PERCENT (at least 10 %), plus 1 wei. Every fee the pipeline ever signs is capped at
 *   FEE_MAX_GWEI, so this replaces any of them (EIP-1559 replacement: ≥ +10 % on both fields) and
 *   no later pipeline bump can replace it back. Its price is one 21 000-gas transfer per stuck
 *   nonce (at the default 500 gwei cap: 0.01155 ETH), paid only after the bounded wait.
 * - The fields depend only on the nonce and configuration, and signatures are deterministic
 *   (RFC 6979), so after a crash the same self-transfer is signed again byte for byte: the node
 *   answers "already known", and a nonce is never the subject of two different self-transfers.
 *   Which nonces were consumed needs no bookkeeping of its own: the chain's count says it.
 * - The displaced row is re-queued by the pipeline's own rule (its nonce went to another
 *   transaction: `NONCE_TAKEN`, seen twice 5 s apart, none of its hashes mined); held, it moves to
 *   the new key at destroy-old-key and is signed there once, calldata built at that signing.
 *   Re-queued rather than failed: the firm's operation was accepted, the old bytes can never be
 *   mined once the nonce is consumed, so signing it again cannot make it land twice.
 *
 * The old key is "refused" when opening it fails for good: the envelope does not authenticate
 * (tampered or destroyed ciphertext, KeyIntegrityError), KMS names the key disabled, pending
 * deletion or missing, or any opening failure persists for another `waitMs`. Then no nonce can
 * be consumed, and the rotation revokes first.
 */
import { Logger } from '@nestjs/common';
import { getAddress, type Hex } from 'viem';
import { ChainService } from '../chain/chain.service';
import { GasFunding } from '../chain/gas-funding';
import { firstLine } from '../common/logging';
import { AppConfig } from '../config/app-config';
import { KeyIntegrityError, KmsUnavailableError } from '../kms/key-management';
import { SealedKeyStores } from '../kms/sealed-key-stores';
import { SigningKeys } from '../kms/signing-keys';
import { TransactionQueue } from '../transactions/queue';

/** A 0-value transfer to oneself. */
const TRANSFER_GAS = 21_000n;
/** KMS states in which a key does not come back by waiting. */
const KMS_REFUSES = /DisabledException|KMSInvalidStateException|NotFoundException|KeyUnavailableException/;
/** The same self-transfers are broadcast again at most this often (each signing is one key opening). */
const RESEND_MS = 10_000;

export type Settlement =
  /** Nothing the old key signed is unfinished. */
  | { state: 'settled' }
  /** Still waiting: the pipeline's re-broadcasts and bumps, or the consumed nonces' rows being re-queued. */
  | { state: 'waiting' }
  /** Unfinished rows and a key that cannot be opened: revoke first. */
  | { state: 'refused'; reason: string };

export interface OldSigner {
  rotationId: string;
  kind: 'operator' | 'issuer';
  id: string;
  address: `0x${string}`;
  /** The firm whose audit trail the key openings belong to (null for an issuer). */
  operatorId: string | null;
  /** When the queue was held (the hold-queue step's completion). */
  heldAt: Date;
}

export class OldKeySettlement {
  private readonly logger = new Logger('Rotation');
  private readonly sentAt = new Map<string, number>();
  /** First failed opening per rotation (in memory: after a restart the wait starts again, never shorter). */
  private readonly openFailingSince = new Map<string, number>();

  constructor(
    private readonly queue: TransactionQueue,
    private readonly chain: ChainService,
    private readonly gas: GasFunding,
    private readonly keys: SigningKeys,
    private readonly stores: SealedKeyStores,
    private readonly config: AppConfig,
  ) {}

  get waitMs(): number {
    return 3 * this.config.chain.fees.stuckAfterSeconds * 1000;
  }

  /** Both fee fields of a consuming self-transfer: above every fee the pipeline may sign. */
  get consumeFee(): bigint {
    const { maxFeeWei, bumpPercent } = this.config.chain.fees;
    return (maxFeeWei * BigInt(100 + Math.max(bumpPercent, 10))) / 100n + 1n;
  }

  async settle(s: OldSigner): Promise<Settlement> {
    const rows = await this.queue.signedInFlightFrom(s.address);
    if (!rows.length) {
      this.forget(s.rotationId);
      return { state: 'settled' };
    }
    if (Date.now() - s.heldAt.getTime() < this.waitMs) return { state: 'waiting' };
    const mined = await this.chain.pipeline.getTransactionCount({ address: s.address, blockTag: 'latest' });
    // A row below the mined count was mined (its receipt is on the way) or displaced (re-queued
    // by the pipeline shortly): only the others need their nonce consumed.
    const nonces = [...new Set(rows.map((r) => Number(r.nonce)).filter((n) => n >= mined))].sort((a, b) => a - b);
    if (!nonces.length) return { state: 'waiting' };
    const last = this.sentAt.get(s.rotationId);
    if (last !== undefined && Date.now() - last < RESEND_MS) return { state: 'waiting' };
    let raws: Hex[];
    try {
      raws = await this.sign(s, nonces);
      this.openFailingSince.delete(s.rotationId);
    } catch (e) {
      const refused = this.refusal(s.rotationId, e);
      if (refused) return { state: 'refused', reason: refused };
      throw e;
    }
    this.sentAt.set(s.rotationId, Date.now());
    await this.fundFor(s.address, BigInt(nonces.length));
    for (const [i, raw] of raws.entries()) {
      try {
        await this.chain.sender.sendRawTransaction({ serializedTransaction: raw });
      } catch (e) {
        const msg = firstLine(e);
        if (!/already known|known transaction|nonce too low/i.test(msg))
          this.logger.warn(
            `rotation ${s.rotationId}: consuming nonce ${nonces[i]} of ${s.address} not taken by the node: ${msg}; sent again`,
          );
      }
    }
    this.logger.warn(
      `rotation ${s.rotationId}: ${nonces.length} stuck transaction(s) of ${s.address} replaced by 0-value self-transfers (nonces ${nonces.join(', ')})`,
    );
    return { state: 'waiting' };
  }

  forget(rotationId: string): void {
    this.sentAt.delete(rotationId);
    this.openFailingSince.delete(rotationId);
  }

  /** One key opening signs every consuming self-transfer (audited as `key.open` with its purpose). */
  private async sign(s: OldSigner, nonces: readonly number[]): Promise<Hex[]> {
    const owner = { kind: s.kind, id: s.id };
    // No sealed key to load (destroyed) is a refusal like a ciphertext that does not authenticate.
    const sealed = await this.stores.load(owner).catch((e: unknown) => {
      throw new KeyIntegrityError(`the old key cannot be loaded: ${firstLine(e)}`);
    });
    if (getAddress(sealed.address) !== getAddress(s.address)) throw new KeyIntegrityError('the stored key is not the old address any more');
    const chainId = (await this.chain.chain()).id;
    const fee = this.consumeFee;
    return this.keys.withSigner(
      owner,
      sealed,
      { actor: { type: 'system' }, operatorId: s.operatorId, purpose: `key rotation ${s.rotationId}: consume nonces ${nonces.join(', ')}` },
      async (account) => {
        const out: Hex[] = [];
        for (const nonce of nonces)
          out.push(
            await account.signTransaction({
              chainId,
              type: 'eip1559',
              nonce,
              to: s.address,
              value: 0n,
              gas: TRANSFER_GAS,
              maxFeePerGas: fee,
              maxPriorityFeePerGas: fee,
            }),
          );
        return out;
      },
    );
  }

  /** The reason the key counts as refused, or undefined while waiting may still help. */
  private refusal(rotationId: string, e: unknown): string | undefined {
    if (e instanceof KeyIntegrityError) return `the old key does not open (${e.reason})`;
    if (!(e instanceof KmsUnavailableError)) return undefined;
    const msg = firstLine(e);
    if (KMS_REFUSES.test(msg)) return `KMS refuses the old key (${msg})`;
    const since = this.openFailingSince.get(rotationId) ?? Date.now();
    this.openFailingSince.set(rotationId, since);
    if (Date.now() - since >= this.waitMs) return `the old key could not be opened for ${Math.round(this.waitMs / 1000)} s (${msg})`;
    return undefined;
  }

  /** Development gas funding only: the old address must be able to pay its self-transfers. */
  private async fundFor(address: `0x${string}`, count: bigint): Promise<void> {
    if (!this.gas.enabled) return;
    const need = TRANSFER_GAS * this.consumeFee * count;
    if ((await this.chain.pipeline.getBalance({ address })) < need) await this.gas.fund(address);
  }
}
