/**
 * What an owner's row stores for its signing key: ciphertexts only. Owners keep these
 * columns in their own tables (operators, issuers, the dev governance key) and hand
 * them to SigningKeys; the encryption context is rebuilt from the owner's identity.
 */
export type KeyOwnerKind = 'operator' | 'issuer' | 'governance';

export interface KeyOwner {
  kind: KeyOwnerKind;
  id: string;
}

export interface SealedKey {
  /** Versioned envelope: format version, IV, AES-256-GCM ciphertext, tag. */
  encryptedKey: Buffer;
  /** KMS CiphertextBlob of the data key. */
  encryptedDataKey: Buffer;
  /** The master key that wrapped the data key (ARN for AWS). */
  kmsKeyId: string;
  /** EIP-55 address of the signing key; part of the encryption context. */
  address: `0x${string}`;
}
