/**
 * GOVERNANCE_SIGNER=kms: an AWS KMS asymmetric ECC_SECG_P256K1 SIGN_VERIFY key
 * (GOVERNANCE_KMS_KEY_ID), used through `Sign` with `MessageType: DIGEST` and
 * `ECDSA_SHA_256` (KMS signs the given 32-byte keccak digest as is; the algorithm name only
 * says what length to expect). The key never leaves KMS. Its public key is read once with
 * `GetPublicKey` (cached), which also pins the key's ARN: later Sign calls name the ARN, so
 * retargeting an alias cannot swap the key under a running process.
 *
 * Errors: unreachable, timed out, throttled or a KMS server fault → KmsUnavailableError
 * (retryable); access denied, disabled, pending deletion, not found, wrong usage or spec →
 * GovernanceKeyRefusedError (fail closed). Messages carry KMS exception names only.
 */
import { GetPublicKeyCommand, KMSClient, KMSServiceException, SignCommand, type GetPublicKeyCommandOutput } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { hexToBytes, type Address, type Hex, type LocalAccount, type Signature } from 'viem';
import { isLoopback, type AppConfig } from '../config/app-config';
import { KmsUnavailableError } from '../kms/key-management';
import { digestSignerAccount, GovernanceKeyRefusedError, GovernanceSigner } from './governance-signer';
import { addressFromSpki, ethereumSignature } from './kms-signature';

/** KMS exceptions that a later attempt may not meet (AWS documents them as transient). */
const TRANSIENT = new Set([
  'ThrottlingException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  'ServiceUnavailableException',
  'InternalFailure',
]);

interface KeyInfo {
  arn: string;
  publicKey: Hex;
  address: Address;
}

export function governanceKmsClient(config: AppConfig): KMSClient {
  const endpoint = config.kms.endpoint;
  if (endpoint) {
    const u = new URL(endpoint);
    if (u.protocol === 'http:' && !isLoopback(u.hostname))
      throw new Error('KMS_ENDPOINT: plain http:// is allowed only to a loopback host');
  }
  return new KMSClient({
    endpoint,
    region: config.kms.region ?? (endpoint ? 'us-east-1' : undefined),
    maxAttempts: 3,
    retryMode: 'standard',
    // As in src/kms/aws-kms.ts: without throwOnRequestTimeout a KMS that never answers hangs the call.
    requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true }),
  });
}

export class KmsGovernanceSigner extends GovernanceSigner {
  readonly kind = 'kms' as const;
  private info: Promise<KeyInfo> | undefined;
  private cachedAccount: LocalAccount | undefined;

  /**
   * `pinned`: GOVERNANCE_ADDRESS when set with kms; the key's address must equal it (the
   * API may already use it as the tokens' admin), otherwise every call fails closed.
   */
  constructor(
    private readonly client: KMSClient,
    private readonly keyId: string,
    private readonly pinned?: Address,
  ) {
    super();
  }

  static fromConfig(config: AppConfig): KmsGovernanceSigner {
    const keyId = config.governance.kmsKeyId;
    if (!keyId) throw new Error('GOVERNANCE_KMS_KEY_ID is not set');
    return new KmsGovernanceSigner(governanceKmsClient(config), keyId, config.governance.address);
  }

  async address(): Promise<Address> {
    return (await this.keyInfo()).address;
  }

  async account(): Promise<LocalAccount> {
    if (this.cachedAccount) return this.cachedAccount;
    const { address } = await this.keyInfo();
    this.cachedAccount = digestSignerAccount(address, (hash) => this.signDigest(hash));
    return this.cachedAccount;
  }

  /** One KMS Sign over a 32-byte digest → (r, low s, yParity), checked to recover to the key. */
  async signDigest(hash: Hex): Promise<Signature> {
    const digest = hexToBytes(hash);
    if (digest.length !== 32) throw new Error('a governance digest is 32 bytes');
    const info = await this.keyInfo();
    const out = await this.call(() =>
      this.client.send(new SignCommand({ KeyId: info.arn, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })),
    );
    if (!out.Signature) throw new KmsUnavailableError('KMS returned no signature');
    return ethereumSignature(hash, out.Signature, info.publicKey);
  }

  destroy(): void {
    this.client.destroy();
  }

  /** GetPublicKey once per process; a failed attempt is not cached, so the next call retries. */
  private keyInfo(): Promise<KeyInfo> {
    this.info ??= this.loadKeyInfo().catch((e: unknown) => {
      this.info = undefined;
      throw e;
    });
    return this.info;
  }

  private async loadKeyInfo(): Promise<KeyInfo> {
    const out: GetPublicKeyCommandOutput = await this.call(() => this.client.send(new GetPublicKeyCommand({ KeyId: this.keyId })));
    // CustomerMasterKeySpec: the deprecated name of the same field, the only one some emulators (moto 5.2) send.
    const spec = out.KeySpec ?? out.CustomerMasterKeySpec;
    if (spec !== 'ECC_SECG_P256K1') throw new GovernanceKeyRefusedError(`key spec ${spec ?? 'unknown'} is not ECC_SECG_P256K1`);
    if (out.KeyUsage !== 'SIGN_VERIFY') throw new GovernanceKeyRefusedError(`key usage ${out.KeyUsage ?? 'unknown'} is not SIGN_VERIFY`);
    if (!out.SigningAlgorithms?.includes('ECDSA_SHA_256')) throw new GovernanceKeyRefusedError('the key does not offer ECDSA_SHA_256');
    if (!out.PublicKey || !out.KeyId) throw new KmsUnavailableError('KMS returned no public key');
    const { publicKey, address } = addressFromSpki(out.PublicKey);
    if (this.pinned && this.pinned !== address)
      throw new GovernanceKeyRefusedError(`the KMS key's address ${address} is not GOVERNANCE_ADDRESS ${this.pinned}`);
    return { arn: out.KeyId, publicKey, address };
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof KMSServiceException && !TRANSIENT.has(e.name) && e.$fault === 'client') throw new GovernanceKeyRefusedError(e.name);
      const name = e instanceof Error ? e.name : 'Error';
      throw new KmsUnavailableError(`The key management service is unavailable (${name}); try again later`);
    }
  }
}
