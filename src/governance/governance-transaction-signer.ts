/**
 * The governance process's TransactionSigner: every row it claims is a governance row, signed
 * by the GovernanceSigner (KMS `Sign` under `kms`: the key never leaves KMS). Each signature is
 * audited (`governance.sign`) with the row it is for, before anything it signed is stored.
 */
import { Injectable } from '@nestjs/common';
import type { KeyOwnerKind } from '../kms/sealed-key';
import { TransactionSigner, type SignFn } from '../transactions/transaction-signer';
import { GovernanceSigner } from './governance-signer';

@Injectable()
export class GovernanceTransactionSigner extends TransactionSigner {
  constructor(private readonly governance: GovernanceSigner) {
    super();
  }

  async open(signer: { kind: KeyOwnerKind; id: string }): Promise<SignFn> {
    if (signer.kind !== 'governance') throw new Error(`the governance process signs governance rows only, not ${signer.kind}`);
    const account = await this.governance.account();
    return async (tx, audit) => {
      const raw = await account.signTransaction(tx);
      audit.collect?.push({
        actor: { type: 'system' },
        operatorId: audit.operatorId,
        action: 'governance.sign',
        subject: { type: 'governance-key', id: signer.id },
        outcome: 'success',
        details: { purpose: audit.purpose, signer: this.governance.kind, address: account.address },
      });
      return raw;
    };
  }
}
