/**
 * The KMS adapter over a stand-in KMS client (no network): a secp256k1 key held by the test
 * answers GetPublicKey with OpenSSL's SPKI and Sign (DIGEST) with a DER signature whose s is
 * left high half the time, as KMS does; failures are the SDK's own exception types. The same
 * adapter against a real KMS API (moto) is test/e2e/governance-signer.e2e-spec.ts.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import {
  DisabledException,
  GetPublicKeyCommand,
  KMSInternalException,
  KMSInvalidStateException,
  KMSServiceException,
  SignCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { secp256k1 } from '@noble/curves/secp256k1';
import {
  bytesToHex,
  keccak256,
  parseTransaction,
  recoverAddress,
  recoverTransactionAddress,
  toHex,
  type TransactionSerializedEIP1559,
} from 'viem';
import { publicKeyToAddress } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { KmsUnavailableError } from '../kms/key-management';
import { GovernanceKeyRefusedError } from './governance-signer';
import { KmsGovernanceSigner } from './kms-governance-signer';

const N = secp256k1.CURVE.n;
const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/0b1f3c9e-0000-4000-8000-000000000001';

function fakeKms(opts: { fail?: (cmd: unknown) => Error | undefined; spec?: string } = {}) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  const d = Buffer.from(createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' })).export({ format: 'jwk' }).d!, 'base64url');
  const address = publicKeyToAddress(bytesToHex(secp256k1.getPublicKey(d, false)));
  const calls: string[] = [];
  let highS = 0;
  const client = {
    send: (cmd: unknown) => {
      const name = (cmd as object).constructor.name;
      calls.push(name);
      const e = opts.fail?.(cmd);
      if (e) return Promise.reject(e);
      if (cmd instanceof GetPublicKeyCommand)
        return Promise.resolve({
          KeyId: ARN,
          KeySpec: opts.spec ?? 'ECC_SECG_P256K1',
          KeyUsage: 'SIGN_VERIFY',
          SigningAlgorithms: ['ECDSA_SHA_256'],
          PublicKey: publicKey.export({ format: 'der', type: 'spki' }),
        });
      if (cmd instanceof SignCommand) {
        expect(cmd.input).toMatchObject({ KeyId: ARN, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' });
        const sig = secp256k1.sign(cmd.input.Message as Uint8Array, d, { lowS: false });
        // KMS does not normalise s: flip half of them to the high half explicitly.
        const out = sig.s <= N / 2n && calls.length % 2 === 0 ? new secp256k1.Signature(sig.r, N - sig.s) : sig;
        if (out.s > N / 2n) highS++;
        return Promise.resolve({ KeyId: ARN, Signature: out.toDERRawBytes() });
      }
      return Promise.reject(new Error(`unexpected ${name}`));
    },
    destroy: () => undefined,
  } as unknown as KMSClient;
  return { client, address, calls, highS: () => highS };
}

const sdkError = (name: string, fault: 'client' | 'server') =>
  new KMSServiceException({ name, $fault: fault, $metadata: {}, message: `${name} from KMS` });

describe('KmsGovernanceSigner', () => {
  it('reads the address once (GetPublicKey by the configured id), then signs by ARN with low s and the right parity', async () => {
    const kms = fakeKms();
    const s = new KmsGovernanceSigner(kms.client, 'alias/kagi-governance');
    expect(await s.address()).toBe(kms.address);
    for (let i = 0; i < 16; i++) {
      const hash = keccak256(toHex(`digest ${i}`));
      const sig = await s.signDigest(hash);
      expect(BigInt(sig.s) <= N / 2n).toBe(true);
      expect(await recoverAddress({ hash, signature: sig })).toBe(kms.address);
    }
    expect(kms.highS()).toBeGreaterThan(0);
    expect(kms.calls.filter((c) => c === 'GetPublicKeyCommand')).toHaveLength(1);
  });

  it('signs a transaction viem serializes and attributes to the key', async () => {
    const kms = fakeKms();
    const account = await new KmsGovernanceSigner(kms.client, 'k').account();
    const raw = await account.signTransaction({
      to: kms.address,
      value: 1n,
      chainId: 31337,
      nonce: 0,
      gas: 21000n,
      maxFeePerGas: 1n,
      maxPriorityFeePerGas: 1n,
    });
    expect(await recoverTransactionAddress({ serializedTransaction: raw as TransactionSerializedEIP1559 })).toBe(kms.address);
    const tx = parseTransaction(raw);
    expect(tx.chainId).toBe(31337);
    expect(BigInt(tx.s!) <= N / 2n).toBe(true);
  });

  it.each([
    ['ThrottlingException', 'client'],
    ['KMSInternalException', 'server'],
    ['DependencyTimeoutException', 'server'],
    ['KeyUnavailableException', 'server'],
  ] as const)('treats %s as retryable KMS_UNAVAILABLE', async (name, fault) => {
    const kms = fakeKms({ fail: (c) => (c instanceof SignCommand ? sdkError(name, fault) : undefined) });
    const s = new KmsGovernanceSigner(kms.client, 'k');
    await expect(s.signDigest(keccak256('0x01'))).rejects.toBeInstanceOf(KmsUnavailableError);
  });

  it('treats a network failure as retryable and does not cache the failed public-key read', async () => {
    let down = true;
    const kms = fakeKms({ fail: () => (down ? Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' }) : undefined) });
    const s = new KmsGovernanceSigner(kms.client, 'k');
    await expect(s.address()).rejects.toBeInstanceOf(KmsUnavailableError);
    down = false;
    expect(await s.address()).toBe(kms.address);
  });

  it.each([
    ['AccessDeniedException', sdkError('AccessDeniedException', 'client')],
    ['DisabledException', new DisabledException({ $metadata: {}, message: 'disabled' })],
    ['KMSInvalidStateException', new KMSInvalidStateException({ $metadata: {}, message: 'pending deletion' })],
  ])('fails closed on %s, naming only the exception', async (name, error) => {
    const kms = fakeKms({ fail: (c) => (c instanceof SignCommand ? error : undefined) });
    const s = new KmsGovernanceSigner(kms.client, 'k');
    const e = await s.signDigest(keccak256('0x02')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GovernanceKeyRefusedError);
    expect((e as GovernanceKeyRefusedError).reason).toBe(name);
  });

  it('still retries a modeled server fault (KMSInternalException)', async () => {
    const kms = fakeKms({
      fail: (c) => (c instanceof SignCommand ? new KMSInternalException({ $metadata: {}, message: 'x' }) : undefined),
    });
    await expect(new KmsGovernanceSigner(kms.client, 'k').signDigest(keccak256('0x03'))).rejects.toBeInstanceOf(KmsUnavailableError);
  });

  it('refuses a key of another spec and a pinned address that is not the key', async () => {
    await expect(new KmsGovernanceSigner(fakeKms({ spec: 'ECC_NIST_P256' }).client, 'k').address()).rejects.toThrow(/ECC_NIST_P256/);
    const kms = fakeKms();
    const other = publicKeyToAddress(bytesToHex(secp256k1.getPublicKey(secp256k1.utils.randomPrivateKey(), false)));
    const pinned = new KmsGovernanceSigner(kms.client, 'k', other);
    await expect(pinned.account()).rejects.toBeInstanceOf(GovernanceKeyRefusedError);
    expect(kms.calls).not.toContain('SignCommand');
  });
});
