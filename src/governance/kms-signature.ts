/**
 * From what AWS KMS answers to what Ethereum needs. KMS `Sign` on an ECC_SECG_P256K1 key
 * returns an ASN.1 DER ECDSA signature (r, s) with no recovery id and s in either half of
 * the curve order; `GetPublicKey` returns a DER SubjectPublicKeyInfo. Ethereum wants
 * (r, s, yParity) with s in the low half (EIP-2: a high-s transaction is invalid).
 *
 * No ASN.1 by hand: the signature goes through @noble/curves' `Signature.fromDER` (strict
 * DER, r and s range-checked), the public key through Node's own SPKI parser (OpenSSL),
 * and the point is checked to lie on secp256k1.
 */
import { createPublicKey } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1';
import { bytesToHex, hexToBytes, numberToHex, type Hex, type Signature } from 'viem';
import { publicKeyToAddress } from 'viem/accounts';

/** The KMS answer cannot be used (malformed, wrong curve, wrong key): never retried. */
export class GovernanceSignatureError extends Error {
  constructor(readonly reason: string) {
    super(`governance signature refused: ${reason}`);
    this.name = 'GovernanceSignatureError';
  }
}

/** DER ECDSA signature → (r, s) with s moved to the low half of the order (EIP-2). */
export function lowSFromDer(der: Uint8Array): { r: bigint; s: bigint } {
  let sig;
  try {
    sig = secp256k1.Signature.fromDER(der);
  } catch {
    // The DER bytes are a signature: never echoed.
    throw new GovernanceSignatureError('KMS returned a signature that is not valid DER for secp256k1');
  }
  const low = sig.hasHighS() ? sig.normalizeS() : sig;
  return { r: low.r, s: low.s };
}

/**
 * The recovery id (yParity) of (r, s) over `digest`: the one of 0 and 1 whose recovered
 * key is `publicKey`. Neither → the signature was not made by that key over that digest.
 */
export function recoveryBit(digest: Hex, r: bigint, s: bigint, publicKey: Hex): 0 | 1 {
  const expected = secp256k1.ProjectivePoint.fromHex(publicKey.slice(2));
  const msg = hexToBytes(digest);
  for (const bit of [0, 1] as const) {
    try {
      if (new secp256k1.Signature(r, s).addRecoveryBit(bit).recoverPublicKey(msg).equals(expected)) return bit;
    } catch {
      // Not recoverable with this bit: try the other.
    }
  }
  throw new GovernanceSignatureError("the KMS signature does not recover to the key's public key");
}

/** A KMS DER signature over `digest` as viem's Signature (low s, v = 27 + yParity). */
export function ethereumSignature(digest: Hex, der: Uint8Array, publicKey: Hex): Signature {
  const { r, s } = lowSFromDer(der);
  const yParity = recoveryBit(digest, r, s, publicKey);
  return { r: numberToHex(r, { size: 32 }), s: numberToHex(s, { size: 32 }), v: yParity ? 28n : 27n, yParity };
}

/** DER SubjectPublicKeyInfo of a secp256k1 key → the uncompressed point (0x04 ‖ x ‖ y), checked on the curve. */
function uncompressedPointFromSpki(spki: Uint8Array): Hex {
  let jwk;
  try {
    jwk = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({ format: 'jwk' });
  } catch {
    throw new GovernanceSignatureError('KMS returned a public key that is not a DER SubjectPublicKeyInfo');
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'secp256k1' || !jwk.x || !jwk.y)
    throw new GovernanceSignatureError(`the KMS public key is not on secp256k1 (${jwk.kty ?? '?'} ${jwk.crv ?? '?'})`);
  const x = Buffer.from(jwk.x, 'base64url');
  const y = Buffer.from(jwk.y, 'base64url');
  if (x.length !== 32 || y.length !== 32) throw new GovernanceSignatureError('the KMS public key has a malformed coordinate');
  const point = new Uint8Array(65);
  point[0] = 4;
  point.set(x, 1);
  point.set(y, 33);
  try {
    secp256k1.ProjectivePoint.fromHex(point).assertValidity();
  } catch {
    throw new GovernanceSignatureError('the KMS public key is not a point of secp256k1');
  }
  return bytesToHex(point);
}

/** The Ethereum address of a DER SubjectPublicKeyInfo (keccak of the point, last 20 bytes, EIP-55). */
export function addressFromSpki(spki: Uint8Array): { publicKey: Hex; address: `0x${string}` } {
  const publicKey = uncompressedPointFromSpki(spki);
  return { publicKey, address: publicKeyToAddress(publicKey) };
}
