/**
 * GOVERNANCE_SIGNER=local (development and tests only; production refuses it): the sealed
 * governance key of `governance_keys`, opened through SigningKeys for one signature at a
 * time (audited `key.open`, zeroed afterwards), exactly as operator keys are.
 */
import type { Address, LocalAccount } from 'viem';
import { toAccount } from 'viem/accounts';
import type { KeyAudit, SigningKeys } from '../kms/signing-keys';
import type { GovernanceKeys } from './governance-keys';
import { GovernanceSigner } from './governance-signer';

const AUDIT: KeyAudit = { actor: { type: 'system' }, purpose: 'governance-sign' };

export class LocalGovernanceSigner extends GovernanceSigner {
  readonly kind = 'local' as const;

  constructor(
    private readonly keys: SigningKeys,
    private readonly rows: GovernanceKeys,
  ) {
    super();
  }

  async address(): Promise<Address> {
    return (await this.rows.ensure()).sealed.address;
  }

  async account(): Promise<LocalAccount> {
    const address = await this.address();
    return toAccount({
      address,
      sign: (p) => this.with((a) => a.sign!(p)),
      signMessage: (p) => this.with((a) => a.signMessage(p)),
      signTypedData: (p) => this.with((a) => a.signTypedData(p)),
      signTransaction: (tx, options) => this.with((a) => a.signTransaction(tx, options)),
    });
  }

  private async with<T>(fn: (account: LocalAccount) => Promise<T>): Promise<T> {
    const row = await this.rows.ensure();
    return this.keys.withSigner({ kind: 'governance', id: row.id }, row.sealed, AUDIT, fn);
  }
}
