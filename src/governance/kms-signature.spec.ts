/**
 * Vectors made independently of the code under test: OpenSSL (Node's crypto) generates the
 * keys and signs, as KMS does, with s in either half; the expected (r, low s), addresses and
 * recoveries come from OpenSSL's raw output, @noble/curves' key derivation and viem.
 */
import { createHash, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1';
import { bytesToHex, hexToBigInt, recoverAddress, type Hex } from 'viem';
import { publicKeyToAddress } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { addressFromSpki, ethereumSignature, GovernanceSignatureError, lowSFromDer, recoveryBit } from './kms-signature';

const N = secp256k1.CURVE.n;

function keyPair(curve = 'secp256k1') {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
  const d = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  return { privateKey, publicKey, spki: publicKey.export({ format: 'der', type: 'spki' }), d };
}

/** What KMS Sign with MessageType DIGEST does: ECDSA over a given SHA-256 digest. */
function opensslSign(message: Buffer, key: KeyObject, encoding: 'der' | 'ieee-p1363') {
  return {
    digest: bytesToHex(createHash('sha256').update(message).digest()),
    sig: sign('sha256', message, { key, dsaEncoding: encoding }),
  };
}

describe('KMS signature → Ethereum signature', () => {
  const k = keyPair();
  const address = publicKeyToAddress(bytesToHex(secp256k1.getPublicKey(k.d, false)));

  it('derives the address from the SPKI public key as @noble/curves does from the private key', () => {
    expect(addressFromSpki(k.spki).address).toBe(address);
  });

  it('parses DER to exactly (r, s) and moves a high s to n - s', () => {
    let high = 0;
    for (let i = 0; i < 64; i++) {
      const { sig } = opensslSign(Buffer.from(`message ${i}`), k.privateKey, 'ieee-p1363');
      const r = hexToBigInt(bytesToHex(sig.subarray(0, 32)));
      const s = hexToBigInt(bytesToHex(sig.subarray(32)));
      if (s > N / 2n) high++;
      const der = new secp256k1.Signature(r, s).toDERRawBytes();
      const parsed = lowSFromDer(der);
      expect(parsed.r).toBe(r);
      expect(parsed.s).toBe(s > N / 2n ? N - s : s);
      expect(parsed.s <= N / 2n).toBe(true);
      // Still a valid signature of the digest for OpenSSL.
      const p1363 = Buffer.from(bytesToHex(new secp256k1.Signature(parsed.r, parsed.s).toCompactRawBytes()).slice(2), 'hex');
      expect(verify('sha256', Buffer.from(`message ${i}`), { key: k.publicKey, dsaEncoding: 'ieee-p1363' }, p1363)).toBe(true);
    }
    // OpenSSL does not normalise s: about half are high (all low has probability 2^-64).
    expect(high).toBeGreaterThan(0);
    expect(high).toBeLessThan(64);
  });

  it('finds the recovery id: viem recovers the signer from every signature, both parities occur', async () => {
    const parities = new Set<number>();
    for (let i = 0; i < 32; i++) {
      const { digest, sig } = opensslSign(Buffer.from(`tx ${i}`), k.privateKey, 'der');
      const out = ethereumSignature(digest, sig, addressFromSpki(k.spki).publicKey);
      parities.add(out.yParity!);
      expect(out.v).toBe(out.yParity ? 28n : 27n);
      expect(hexToBigInt(out.s) <= N / 2n).toBe(true);
      expect(await recoverAddress({ hash: digest, signature: out })).toBe(address);
    }
    expect([...parities].sort()).toEqual([0, 1]);
  });

  it('refuses a signature of another key or another digest (fails closed, no guessed parity)', () => {
    const other = keyPair();
    const { digest, sig } = opensslSign(Buffer.from('x'), other.privateKey, 'der');
    const pub = addressFromSpki(k.spki).publicKey;
    expect(() => ethereumSignature(digest, sig, pub)).toThrow(GovernanceSignatureError);
    const mine = opensslSign(Buffer.from('y'), k.privateKey, 'der');
    const { r, s } = lowSFromDer(mine.sig);
    const wrongDigest: Hex = bytesToHex(createHash('sha256').update('z').digest());
    expect(() => recoveryBit(wrongDigest, r, s, pub)).toThrow(GovernanceSignatureError);
  });

  it('refuses malformed DER without echoing it', () => {
    const { sig } = opensslSign(Buffer.from('m'), k.privateKey, 'der');
    const cases: Uint8Array[] = [
      sig.subarray(0, sig.length - 1), // truncated
      Buffer.concat([sig, Buffer.from([0])]), // trailing byte
      Buffer.from([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01]), // r = 0
      Buffer.alloc(0),
      sig.subarray(0, 32), // not DER at all
    ];
    for (const bad of cases) {
      let error: unknown;
      try {
        lowSFromDer(bad);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(GovernanceSignatureError);
      expect((error as Error).message).not.toContain(Buffer.from(bad).toString('hex').slice(0, 16) || 'never');
    }
  });

  it('refuses a public key that is not secp256k1', () => {
    expect(() => addressFromSpki(keyPair('prime256v1').spki)).toThrow(/not on secp256k1/);
    expect(() => addressFromSpki(Buffer.from('3056301006072a8648ce3d020106052b8104000a034200', 'hex'))).toThrow(GovernanceSignatureError);
  });
});
