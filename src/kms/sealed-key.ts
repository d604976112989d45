/**
 * What an owner's row stores for its signing key: ciphertexts only. Owners keep these
 * columns in their own tables (operators, issuers, the dev governance key) and hand
 * them to SigningKeys; the encryption context is rebuilt from the owner's identity.
 */
export type KeyOwnerKind = 'operator' | 'issuer' | 'governance' | 'audit-anchor';

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

/** The columns an owner row keeps for its signing key (operators, issuers). */
export interface SealedKeyRow {
  id: string;
  encryptedKey: Buffer;
  encryptedDataKey: Buffer;
  kmsKeyId: string;
  signerAddress: `0x${string}`;
}

export function sealedKeyOf(row: SealedKeyRow): SealedKey {
  return { encryptedKey: row.encryptedKey, encryptedDataKey: row.encryptedDataKey, kmsKeyId: row.kmsKeyId, address: row.signerAddress };
}

/** The owner row's columns for a sealed key (the inverse of sealedKeyOf): what a key replacement writes. */
export function sealedKeyColumns(k: SealedKey): Omit<SealedKeyRow, 'id'> {
  return { signerAddress: k.address, encryptedKey: k.encryptedKey, encryptedDataKey: k.encryptedDataKey, kmsKeyId: k.kmsKeyId };
}
