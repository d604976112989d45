/**
 * Envelope encryption of one secret: a fresh KMS data key per secret (GenerateDataKey,
 * bound to the encryption context), AES-256-GCM with a random 96-bit IV whose AAD is the
 * canonical encoding of the same context. Opening with another context, another
 * owner's columns, or any flipped byte fails closed with KeyIntegrityError.
 *
 * encryptedKey format (version 1): 0x4b 'K' | 0x01 | IV (12) | ciphertext | tag (16)
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Metrics } from '../common/metrics';
import { DataKeyCache } from './data-key-cache';
import { encodeContext, type EncryptionContext } from './encryption-context';
import { KeyIntegrityError, KeyManagement } from './key-management';

const MAGIC = 0x4b;
const VERSION = 1;
const HEADER = 2;
const IV_LEN = 12;
const TAG_LEN = 16;

export interface SealedSecret {
  encryptedKey: Buffer;
  encryptedDataKey: Buffer;
  kmsKeyId: string;
}

@Injectable()
export class Envelope {
  private readonly kmsCalls;

  constructor(
    private readonly kms: KeyManagement,
    private readonly cache: DataKeyCache,
    metrics: Metrics,
  ) {
    this.kmsCalls = metrics.counter('kagi_kms_calls_total', 'KMS calls by operation', ['op']);
  }

  async seal(plaintext: Buffer, context: EncryptionContext): Promise<SealedSecret> {
    this.kmsCalls.inc({ op: 'generate_data_key' });
    const dk = await this.kms.generateDataKey(context);
    try {
      const iv = randomBytes(IV_LEN);
      const cipher = createCipheriv('aes-256-gcm', dk.plaintext, iv);
      cipher.setAAD(encodeContext(context));
      const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return {
        encryptedKey: Buffer.concat([Buffer.from([MAGIC, VERSION]), iv, ct, cipher.getAuthTag()]),
        encryptedDataKey: Buffer.from(dk.ciphertext),
        kmsKeyId: dk.keyId,
      };
    } finally {
      dk.plaintext.fill(0);
    }
  }

  /** Returns the plaintext in a Buffer the caller must zero. */
  async open(sealed: SealedSecret, context: EncryptionContext): Promise<Buffer> {
    const blob = sealed.encryptedKey;
    if (blob.length < HEADER + IV_LEN + TAG_LEN + 1 || blob[0] !== MAGIC) throw new KeyIntegrityError('malformed envelope');
    if (blob[1] !== VERSION) throw new KeyIntegrityError(`unsupported envelope version ${blob[1]}`);
    let dataKey = this.cache.take(sealed.encryptedDataKey, context);
    if (!dataKey) {
      this.kmsCalls.inc({ op: 'decrypt' });
      dataKey = await this.kms.decrypt(sealed.encryptedDataKey, context, sealed.kmsKeyId);
      this.cache.put(sealed.encryptedDataKey, context, dataKey);
    }
    try {
      if (dataKey.length !== 32) throw new KeyIntegrityError('data key has the wrong length');
      const iv = blob.subarray(HEADER, HEADER + IV_LEN);
      const ct = blob.subarray(HEADER + IV_LEN, blob.length - TAG_LEN);
      const decipher = createDecipheriv('aes-256-gcm', dataKey, iv);
      decipher.setAAD(encodeContext(context));
      decipher.setAuthTag(blob.subarray(blob.length - TAG_LEN));
      try {
        return Buffer.concat([decipher.update(ct), decipher.final()]);
      } catch {
        throw new KeyIntegrityError('envelope does not authenticate under this context');
      }
    } finally {
      dataKey.fill(0);
    }
  }

  /** Moves the data key under the current (or given) master key; the ciphertext of the secret is unchanged. */
  async rewrap(sealed: SealedSecret, context: EncryptionContext, destinationKeyId?: string): Promise<SealedSecret> {
    this.kmsCalls.inc({ op: 're_encrypt' });
    const out = await this.kms.reEncrypt(sealed.encryptedDataKey, context, sealed.kmsKeyId, destinationKeyId);
    return { encryptedKey: sealed.encryptedKey, encryptedDataKey: Buffer.from(out.ciphertext), kmsKeyId: out.keyId };
  }
}
