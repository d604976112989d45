/**
 * Provides the GovernanceSigner chosen by GOVERNANCE_SIGNER. `local` needs SigningKeys
 * (KmsModule) and the database; `kms` needs neither, only its own KMS client; `external`
 * needs nothing. Tests swap the adapter with overrideProvider(GovernanceSigner).
 */
import { Module, type OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { SigningKeys } from '../kms/signing-keys';
import { ExternalGovernanceSigner } from './external-governance-signer';
import { GovernanceKeys } from './governance-keys';
import { GovernanceKeysRepository } from './governance-keys.repository';
import { GovernanceSigner } from './governance-signer';
import { KmsGovernanceSigner } from './kms-governance-signer';
import { LocalGovernanceSigner } from './local-governance-signer';

function createGovernanceSigner(config: AppConfig, repo: GovernanceKeysRepository, keys?: SigningKeys): GovernanceSigner {
  const g = config.governance;
  switch (g.signer) {
    case 'kms':
      return KmsGovernanceSigner.fromConfig(config);
    case 'external':
      if (!g.address) throw new Error('GOVERNANCE_ADDRESS is not set');
      return new ExternalGovernanceSigner(g.address);
    case 'local':
      if (!keys) throw new Error('GOVERNANCE_SIGNER=local needs the KMS module (SigningKeys)');
      return new LocalGovernanceSigner(keys, new GovernanceKeys(repo, keys));
  }
}

@Module({
  providers: [
    GovernanceKeysRepository,
    {
      provide: GovernanceSigner,
      // Optional: only `local` uses it, and the governance process loads it only for `local`.
      inject: [AppConfig, GovernanceKeysRepository, { token: SigningKeys, optional: true }],
      useFactory: createGovernanceSigner,
    },
  ],
  exports: [GovernanceSigner, GovernanceKeysRepository],
})
export class GovernanceModule implements OnModuleDestroy {
  constructor(private readonly signer: GovernanceSigner) {}

  onModuleDestroy(): void {
    if (this.signer instanceof KmsGovernanceSigner) this.signer.destroy();
  }
}
