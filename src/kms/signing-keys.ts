/**
 * Platform-held signing keys (operators, issuers, the dev governance key). A key is
 * generated into bytes, sealed by Envelope and stored by its owner; it exists in clear
 * only inside one `withSigner` call, and every Buffer holding it is zeroed in `finally`,
 * also when the callback throws.
 *
 * What JavaScript cannot wipe (documented in docs/key-custody.md): the curve library
 * turns the key bytes into a bigint scalar while signing (immutable, left to the GC),
 * and Node's crypto keeps internal copies of the AES key schedule; no key ever becomes a
 * JavaScript string here, so no string copy exists.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { secp256k1 } from '@noble/curves/secp256k1';
import {
  bytesToHex,
  hashMessage,
  hashTypedData,
  keccak256,
  numberToHex,
  serializeSignature,
  serializeTransaction,
  type Address,
  type Hex,
  type LocalAccount,
  type Signature,
} from 'viem';
import { publicKeyToAddress, toAccount } from 'viem/accounts';
import { AuditSink, type AuditRecord } from '../audit/audit-sink';
import { Metrics } from '../common/metrics';
import type { EncryptionContext } from './encryption-context';
import { Envelope } from './envelope';
import { KeyIntegrityError } from './key-management';
import type { KeyOwner, SealedKey } from './sealed-key';

const SIGNING_KEY_FORMAT = '1';

export interface KeyAudit {
  actor: { type: 'admin' | 'staff' | 'api-key' | 'operator' | 'system' | 'cli' | 'anonymous'; id?: string | null };
  operatorId?: string | null;
  purpose: string;
  requestId?: string | null;
  /**
   * When given, the key-open events are appended here instead of written one by one; the
   * caller writes them (AuditSink.recordMany) before it stores or uses what was signed.
   */
  collect?: AuditRecord[];
}

/** The encryption context of a signing key, rebuilt from trusted identity every time. */
export function signingKeyContext(owner: KeyOwner, address: Address): EncryptionContext {
  return { purpose: `${owner.kind}-signing-key`, ownerKind: owner.kind, ownerId: owner.id, address, formatVersion: SIGNING_KEY_FORMAT };
}

function addressOf(key: Uint8Array): Address {
  return publicKeyToAddress(bytesToHex(secp256k1.getPublicKey(key, false)));
}

function signHash(hash: Hex, key: Uint8Array): Signature {
  const sig = secp256k1.sign(hash.slice(2), key, { lowS: true });
  return {
    r: numberToHex(sig.r, { size: 32 }),
    s: numberToHex(sig.s, { size: 32 }),
    v: sig.recovery ? 28n : 27n,
    yParity: sig.recovery,
  };
}

/**
 * Digest of exactly what an opening decrypts: the ciphertexts, the KMS key and the address
 * (part of the context). No key material, and no way back to it.
 */
function sealedDigest(sealed: SealedKey): string {
  return createHash('sha256')
    .update(sealed.encryptedKey)
    .update('\0')
    .update(sealed.encryptedDataKey)
    .update('\0')
    .update(sealed.kmsKeyId)
    .update('\0')
    .update(sealed.address)
    .digest('base64url');
}

@Injectable()
export class SigningKeys {
  private readonly opens;
  /**
   * Sealed keys whose opened key was checked against their address. Decryption is
   * deterministic and authenticated (AES-GCM tag, checked at every opening), so the same
   * sealed bytes always open to the same key: the public-key derivation, which costs as much
   * as the signature itself, runs once per sealed key and process, not at every signing.
   */
  private readonly verified = new Set<string>();

  constructor(
    private readonly envelope: Envelope,
    private readonly audit: AuditSink,
    metrics: Metrics,
  ) {
    this.opens = metrics.counter('kagi_key_opens_total', 'Signing key openings by outcome', ['outcome']);
  }

  /** Generates and seals a new key; the caller stores `sealed` in its own DB transaction. */
  async create(owner: KeyOwner): Promise<{ address: Address; sealed: SealedKey }> {
    let key = randomBytes(32);
    try {
      while (!secp256k1.utils.isValidPrivateKey(key)) {
        key.fill(0);
        key = randomBytes(32);
      }
      const address = addressOf(key);
      const s = await this.envelope.seal(key, signingKeyContext(owner, address));
      return { address, sealed: { ...s, address } };
    } finally {
      key.fill(0);
    }
  }

  /**
   * Opens the key for the duration of `fn` only. The account handed to `fn` refuses to
   * sign once `fn` has returned.
   */
  async withSigner<T>(owner: KeyOwner, sealed: SealedKey, audit: KeyAudit, fn: (account: LocalAccount) => Promise<T>): Promise<T> {
    const record = async (outcome: 'success' | 'failure' | 'denied', reason?: string) => {
      const event: AuditRecord = {
        actor: audit.actor,
        operatorId: audit.operatorId ?? null,
        action: 'key.open',
        subject: { type: `${owner.kind}-key`, id: owner.id },
        outcome,
        details: { purpose: audit.purpose, address: sealed.address, ...(reason ? { reason } : {}) },
        requestId: audit.requestId ?? null,
      };
      if (audit.collect) audit.collect.push(event);
      else await this.audit.record(event);
    };
    let key: Buffer | undefined;
    let open = true;
    try {
      try {
        key = await this.envelope.open(sealed, signingKeyContext(owner, sealed.address));
      } catch (e) {
        if (e instanceof KeyIntegrityError) {
          this.opens.inc({ outcome: 'integrity_failure' });
          await record('denied', e.reason);
        }
        throw e;
      }
      const digest = sealedDigest(sealed);
      if (!this.verified.has(digest)) {
        if (addressOf(key) !== sealed.address) {
          this.opens.inc({ outcome: 'address_mismatch' });
          await record('denied', 'address mismatch');
          throw new KeyIntegrityError('the opened key does not match the stored address');
        }
        if (this.verified.size >= 10_000) this.verified.clear();
        this.verified.add(digest);
      }
      const derived = sealed.address;
      this.opens.inc({ outcome: 'success' });
      await record('success');
      const k = key;
      const guard = () => {
        if (!open) throw new Error('signer used after its key was closed');
        return k;
      };
      const account = toAccount({
        address: derived,
        sign: async ({ hash }) => serializeSignature(signHash(hash, guard())),
        signMessage: async ({ message }) => serializeSignature(signHash(hashMessage(message), guard())),
        signTypedData: async (typedData) => serializeSignature(signHash(hashTypedData(typedData), guard())),
        signTransaction: async (transaction, options) => {
          const serializer = options?.serializer ?? serializeTransaction;
          const hash = keccak256(await serializer(transaction));
          return serializer(transaction, signHash(hash, guard()));
        },
      });
      return await fn(account);
    } finally {
      open = false;
      key?.fill(0);
    }
  }

  /** Re-wraps the data key under the current KMS key; signing key and address unchanged. */
  async rewrap(owner: KeyOwner, sealed: SealedKey, audit: KeyAudit): Promise<SealedKey> {
    try {
      const out = await this.envelope.rewrap(sealed, signingKeyContext(owner, sealed.address));
      await this.audit.record({
        actor: audit.actor,
        operatorId: audit.operatorId ?? null,
        action: 'key.rewrap',
        subject: { type: `${owner.kind}-key`, id: owner.id },
        outcome: 'success',
        details: { purpose: audit.purpose, address: sealed.address, fromKmsKeyId: sealed.kmsKeyId, toKmsKeyId: out.kmsKeyId },
        requestId: audit.requestId ?? null,
      });
      return { ...out, address: sealed.address };
    } catch (e) {
      if (e instanceof KeyIntegrityError) {
        await this.audit.record({
          actor: audit.actor,
          operatorId: audit.operatorId ?? null,
          action: 'key.rewrap',
          subject: { type: `${owner.kind}-key`, id: owner.id },
          outcome: 'denied',
          details: { purpose: audit.purpose, address: sealed.address, reason: e.reason },
          requestId: audit.requestId ?? null,
        });
      }
      throw e;
    }
  }
}
