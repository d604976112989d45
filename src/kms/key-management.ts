/**
 * The KeyManagement port: the only way kagi reaches a master key. Adapters: AWS KMS
 * (`KMS_PROVIDER=aws`, also moto and LocalStack) and a local keyring for the embedded
 * default. Plaintext data keys are returned in Buffers that the caller must zero.
 */
import { AppError } from '../common/app-error';
import type { EncryptionContext } from './encryption-context';

export interface DataKey {
  /** 32 bytes; the caller zeroes it after use. */
  plaintext: Buffer;
  /** The wrapped data key (KMS CiphertextBlob). */
  ciphertext: Uint8Array;
  /** The master key that wrapped it (ARN for AWS). */
  keyId: string;
}

export abstract class KeyManagement {
  abstract readonly provider: 'aws' | 'local';
  /** The master key new data keys are wrapped under (resolved ARN or local key id). */
  abstract currentKeyId(): Promise<string>;
  abstract generateDataKey(ctx: EncryptionContext): Promise<DataKey>;
  /** `keyId`: the master key recorded with the wrapped key, passed to KMS on every Decrypt. */
  abstract decrypt(wrapped: Uint8Array, ctx: EncryptionContext, keyId: string): Promise<Buffer>;
  abstract reEncrypt(
    wrapped: Uint8Array,
    ctx: EncryptionContext,
    sourceKeyId: string,
    destinationKeyId?: string,
  ): Promise<{ ciphertext: Uint8Array; keyId: string }>;
  /** Readiness: throws when the master key cannot be used. */
  abstract probe(): Promise<void>;
}

/** KMS could not be reached or throttled us: retryable, 503 to synchronous callers. */
export class KmsUnavailableError extends AppError {
  constructor(detail = 'The key management service is unavailable; try again later') {
    super('KMS_UNAVAILABLE', detail);
  }
}

/**
 * A wrapped key failed authentication (wrong context, tampered blob, wrong key).
 * Never retried, audited, and shown to a client only as INTERNAL.
 */
export class KeyIntegrityError extends Error {
  constructor(readonly reason: string) {
    super(`key integrity check failed: ${reason}`);
    this.name = 'KeyIntegrityError';
  }
}
