/**
 * AWS KMS adapter of the KeyManagement port (also moto and LocalStack through
 * KMS_ENDPOINT). Bounded timeouts and retries; throttling and unreachability become
 * KMS_UNAVAILABLE (retryable), integrity failures a KeyIntegrityError (never retried).
 * Plaintext data keys returned by the SDK are copied into a Buffer and the SDK's copy
 * is zeroed at once.
 */
import {
  DecryptCommand,
  DescribeKeyCommand,
  GenerateDataKeyCommand,
  KMSClient,
  KMSServiceException,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { isLoopback, type AppConfig } from '../config/app-config';
import type { EncryptionContext } from './encryption-context';
import { KeyIntegrityError, KeyManagement, KmsUnavailableError, type DataKey } from './key-management';

/** Errors that mean "this ciphertext does not belong here": never retried, audited by callers. */
const INTEGRITY_ERRORS = new Set(['InvalidCiphertextException', 'IncorrectKeyException', 'InvalidKeyUsageException']);
/**
 * On Decrypt/ReEncrypt of a stored blob, "access denied" means the blob was not made
 * by the key we name (moto answers a wrong KeyId this way; AWS uses IncorrectKeyException):
 * treated as an integrity failure, not as an outage to retry.
 */
const BLOB_INTEGRITY_ERRORS = new Set([...INTEGRITY_ERRORS, 'AccessDeniedException']);

export class AwsKms extends KeyManagement {
  readonly provider = 'aws' as const;
  private readonly client: KMSClient;
  private arn: string | undefined;

  constructor(private readonly config: AppConfig) {
    super();
    const endpoint = config.kms.endpoint;
    if (endpoint) {
      const u = new URL(endpoint);
      if (u.protocol === 'http:' && !isLoopback(u.hostname))
        throw new Error('KMS_ENDPOINT: plain http:// is allowed only to a loopback host');
    }
    this.client = new KMSClient({
      endpoint,
      region: config.kms.region ?? (endpoint ? 'us-east-1' : undefined),
      maxAttempts: 3,
      retryMode: 'standard',
      // throwOnRequestTimeout: without it @smithy/node-http-handler 4 only logs a warning when
      // requestTimeout passes, and a KMS that accepts connections but never answers hangs
      // every call (and the signing pipeline) forever.
      requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true }),
    });
  }

  async currentKeyId(): Promise<string> {
    if (this.arn) return this.arn;
    const out = await this.call(() => this.client.send(new DescribeKeyCommand({ KeyId: this.config.kms.keyId })));
    const arn = out.KeyMetadata?.Arn;
    if (!arn) throw new KmsUnavailableError('KMS did not describe the configured key');
    this.arn = arn;
    return arn;
  }

  async generateDataKey(ctx: EncryptionContext): Promise<DataKey> {
    const keyId = await this.currentKeyId();
    const out = await this.call(() =>
      this.client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: { ...ctx } })),
    );
    if (!out.Plaintext || !out.CiphertextBlob) throw new KmsUnavailableError('KMS returned no data key');
    const plaintext = Buffer.from(out.Plaintext);
    out.Plaintext.fill(0);
    return { plaintext, ciphertext: out.CiphertextBlob, keyId: out.KeyId ?? keyId };
  }

  async decrypt(wrapped: Uint8Array, ctx: EncryptionContext, keyId: string): Promise<Buffer> {
    const out = await this.call(
      () => this.client.send(new DecryptCommand({ CiphertextBlob: wrapped, EncryptionContext: { ...ctx }, KeyId: keyId })),
      BLOB_INTEGRITY_ERRORS,
    );
    if (!out.Plaintext) throw new KeyIntegrityError('KMS returned no plaintext');
    const plaintext = Buffer.from(out.Plaintext);
    out.Plaintext.fill(0);
    return plaintext;
  }

  async reEncrypt(
    wrapped: Uint8Array,
    ctx: EncryptionContext,
    sourceKeyId: string,
    destinationKeyId?: string,
  ): Promise<{ ciphertext: Uint8Array; keyId: string }> {
    const dest = destinationKeyId ?? (await this.currentKeyId());
    const out = await this.call(
      () =>
        this.client.send(
          new ReEncryptCommand({
            CiphertextBlob: wrapped,
            SourceEncryptionContext: { ...ctx },
            DestinationEncryptionContext: { ...ctx },
            SourceKeyId: sourceKeyId,
            DestinationKeyId: dest,
          }),
        ),
      BLOB_INTEGRITY_ERRORS,
    );
    if (!out.CiphertextBlob) throw new KmsUnavailableError('KMS returned no ciphertext');
    return { ciphertext: out.CiphertextBlob, keyId: out.KeyId ?? dest };
  }

  async probe(): Promise<void> {
    const dk = await this.generateDataKey({ purpose: 'readiness-probe' });
    dk.plaintext.fill(0);
  }

  /** Maps SDK failures onto the two kinds callers handle; messages carry no key material. */
  private async call<T>(fn: () => Promise<T>, integrityErrors: ReadonlySet<string> = INTEGRITY_ERRORS): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof KMSServiceException && integrityErrors.has(e.name)) throw new KeyIntegrityError(e.name);
      const name = e instanceof Error ? e.name : 'Error';
      throw new KmsUnavailableError(`The key management service is unavailable (${name}); try again later`);
    }
  }
}
