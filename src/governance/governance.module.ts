/**
 * Provides the GovernanceSigner chosen by GOVERNANCE_SIGNER. `local` needs SigningKeys
 * (KmsModule) and the database; `kms` needs neither, only its own KMS client; `external`
 * needs nothing. Tests swap the adapter with overrideProvider(GovernanceSigner).
 */
import { Module, type OnModuleDestroy } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { SigningKeys } from '../kms/signing-keys';
import { ExternalGovernanceSigner } from './external-governance-signer';
import { GovernanceKeys } from './governance-keys';
import { GovernanceSigner } from './governance-signer';
import { KmsGovernanceSigner } from './kms-governance-signer';
import { LocalGovernanceSigner } from './local-governance-signer';

export function createGovernanceSigner(config: AppConfig, moduleRef: ModuleRef): GovernanceSigner {
  const g = config.governance;
  switch (g.signer) {
    case 'kms':
      return KmsGovernanceSigner.fromConfig(config);
    case 'external':
      if (!g.address) throw new Error('GOVERNANCE_ADDRESS is not set');
      return new ExternalGovernanceSigner(g.address);
    case 'local': {
      const keys = moduleRef.get(SigningKeys, { strict: false });
      return new LocalGovernanceSigner(keys, new GovernanceKeys(moduleRef.get(DataSource, { strict: false }), keys));
    }
  }
}

@Module({
  providers: [{ provide: GovernanceSigner, inject: [AppConfig, ModuleRef], useFactory: createGovernanceSigner }],
  exports: [GovernanceSigner],
})
export class GovernanceModule implements OnModuleDestroy {
  constructor(private readonly signer: GovernanceSigner) {}

  onModuleDestroy(): void {
    if (this.signer instanceof KmsGovernanceSigner) this.signer.destroy();
  }
}
