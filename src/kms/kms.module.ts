/**
 * Chooses the KeyManagement adapter by KMS_PROVIDER (never by accident: production
 * refuses `local` in config). Tests swap it with overrideProvider(KeyManagement).
 */
import { Global, Logger, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { KeyManagement } from './key-management';
import { LocalKeyring, localKeyringDir } from './local-keyring';

export async function createKeyManagement(config: AppConfig): Promise<KeyManagement> {
  const logger = new Logger('KMS');
  if (config.kms.provider === 'local') {
    const ring = new LocalKeyring(localKeyringDir(config.dataDir));
    logger.log(`KMS provider=local keyring=${localKeyringDir(config.dataDir)} key=${await ring.currentKeyId()}`);
    return ring;
  }
  // The AWS adapter is loaded lazily so the local default never touches the AWS SDK.
  const { AwsKms } = await import('./aws-kms');
  const kms = new AwsKms(config);
  const arn = await kms.currentKeyId().catch(() => `${config.kms.keyId} (not resolved yet)`);
  logger.log(`KMS provider=aws endpoint=${config.kms.endpoint ?? 'AWS default'} key=${arn}`);
  return kms;
}

@Global()
@Module({
  providers: [{ provide: KeyManagement, inject: [AppConfig], useFactory: createKeyManagement }],
  exports: [KeyManagement],
})
export class KmsModule {}
