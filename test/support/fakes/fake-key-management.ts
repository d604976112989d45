/**
 * Test double of the KeyManagement port for unit tests (`overrideProvider(KeyManagement)`).
 * Real AES-GCM wrapping with the context as AAD (so integrity checks behave as in KMS),
 * counted calls, and switchable outages. Strict: an operation not enabled throws.
 */
import { LocalKeyring } from '../../../src/kms/local-keyring';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EncryptionContext } from '../../../src/kms/encryption-context';
import { KeyManagement, KmsUnavailableError, type DataKey } from '../../../src/kms/key-management';

export class FakeKeyManagement extends KeyManagement {
  readonly provider = 'local' as const;
  readonly ring = new LocalKeyring(mkdtempSync(join(tmpdir(), 'kagi-fake-kms-')));
  readonly calls = { generateDataKey: 0, decrypt: 0, reEncrypt: 0, probe: 0 };
  /** When set, every call fails as an unreachable KMS would. */
  down = false;
  /** Data keys returned by decrypt, so tests can check they were zeroed. */
  readonly returnedDataKeys: Buffer[] = [];

  currentKeyId(): Promise<string> {
    return this.ring.currentKeyId();
  }

  async generateDataKey(ctx: EncryptionContext): Promise<DataKey> {
    this.calls.generateDataKey++;
    this.fail();
    const dk = await this.ring.generateDataKey(ctx);
    this.returnedDataKeys.push(dk.plaintext);
    return dk;
  }

  async decrypt(wrapped: Uint8Array, ctx: EncryptionContext, keyId: string): Promise<Buffer> {
    this.calls.decrypt++;
    this.fail();
    const k = await this.ring.decrypt(wrapped, ctx, keyId);
    this.returnedDataKeys.push(k);
    return k;
  }

  reEncrypt(wrapped: Uint8Array, ctx: EncryptionContext, sourceKeyId: string, destinationKeyId?: string) {
    this.calls.reEncrypt++;
    this.fail();
    return this.ring.reEncrypt(wrapped, ctx, sourceKeyId, destinationKeyId);
  }

  probe(): Promise<void> {
    this.calls.probe++;
    this.fail();
    return this.ring.probe();
  }

  private fail(): void {
    if (this.down) throw new KmsUnavailableError();
  }
}
