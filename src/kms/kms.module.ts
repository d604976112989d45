/**
 * Chooses the KeyManagement adapter by KMS_PROVIDER (never by accident: production
 * refuses `local` in config) and provides the envelope and the signer on top of it.
 * Tests swap the adapter with overrideProvider(KeyManagement).
 */
import { Global, Logger, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { AwsKms } from './aws-kms';
import { DataKeyCache } from './data-key-cache';
import { Envelope } from './envelope';
import { KeyManagement } from './key-management';
import { LocalKeyring, localKeyringDir } from './local-keyring';
import { SealedKeyStores } from './sealed-key-stores';
import { SigningKeys } from './signing-keys';

async function createKeyManagement(config: AppConfig): Promise<KeyManagement> {
  const logger = new Logger('KMS');
  const cache =
    config.kms.cacheMaxAgeMs > 0 && config.kms.cacheMaxUses > 0
      ? `on (max age ${config.kms.cacheMaxAgeMs} ms, max uses ${config.kms.cacheMaxUses})`
      : 'off';
  if (config.kms.provider === 'local') {
    const ring = new LocalKeyring(localKeyringDir(config.dataDir));
    logger.log(`KMS provider=local keyring=${localKeyringDir(config.dataDir)} key=${await ring.currentKeyId()} data-key cache ${cache}`);
    return ring;
  }
  const kms = new AwsKms(config);
  if (config.offline) return kms;
  const arn = await kms.currentKeyId().catch(() => `${config.kms.keyId} (not resolved yet: KMS unreachable)`);
  logger.log(`KMS provider=aws endpoint=${config.kms.endpoint ?? 'AWS default'} key=${arn} data-key cache ${cache}`);
  return kms;
}

@Global()
@Module({
  providers: [
    { provide: KeyManagement, inject: [AppConfig], useFactory: createKeyManagement },
    DataKeyCache,
    Envelope,
    SigningKeys,
    SealedKeyStores,
  ],
  exports: [KeyManagement, DataKeyCache, Envelope, SigningKeys, SealedKeyStores],
})
export class KmsModule {}
