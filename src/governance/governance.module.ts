/**
 * Provides the GovernanceSigner chosen by GOVERNANCE_SIGNER. `local` needs SigningKeys
 * (KmsModule) and the database; `kms` needs neither, only its own KMS client; `external`
 * needs nothing. Tests swap the adapter with overrideProvider(GovernanceSigner).
 */
import { Module, type OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { SigningKeys } from '../kms/signing-keys';
import { ExternalGovernanceSigner } from './external-governance-signer';
import { GovernanceKeys } from './governance-keys';
import { GovernanceSigner } from './governance-signer';
import { KmsGovernanceSigner } from './kms-governance-signer';
import { LocalGovernanceSigner } from './local-governance-signer';

function createGovernanceSigner(config: AppConfig, keys?: SigningKeys, ds?: DataSource): GovernanceSigner {
  const g = config.governance;
  switch (g.signer) {
    case 'kms':
      return KmsGovernanceSigner.fromConfig(config);
    case 'external':
      if (!g.address) throw new Error('GOVERNANCE_ADDRESS is not set');
      return new ExternalGovernanceSigner(g.address);
    case 'local':
      if (!keys || !ds) throw new Error('GOVERNANCE_SIGNER=local needs the KMS module (SigningKeys) and the database');
      return new LocalGovernanceSigner(keys, new GovernanceKeys(ds, keys));
  }
}

@Module({
  providers: [
    {
      provide: GovernanceSigner,
      // Optional: only `local` uses them, and the governance process loads them only for `local`.
      inject: [AppConfig, { token: SigningKeys, optional: true }, { token: DataSource, optional: true }],
      useFactory: createGovernanceSigner,
    },
  ],
  exports: [GovernanceSigner],
})
export class GovernanceModule implements OnModuleDestroy {
  constructor(private readonly signer: GovernanceSigner) {}

  onModuleDestroy(): void {
    if (this.signer instanceof KmsGovernanceSigner) this.signer.destroy();
  }
}
