/**
 * The TransactionSigner port: how the signing stage turns an unsigned transaction into signed
 * bytes for a signer. Today's adapter opens the signer's envelope-sealed key (one KMS Decrypt per
 * transaction, zeroed right after; see kms/signing-keys.ts); a KMS `Sign` or an external-proposal
 * adapter (governance) plugs in here without the pipeline changing.
 */
import { Injectable } from '@nestjs/common';
import type { Hex, TransactionSerializableEIP1559 } from 'viem';
import type { AuditRecord } from '../audit/audit-sink';
import type { KeyOwnerKind } from '../kms/sealed-key';
import { SealedKeyStores } from '../kms/sealed-key-stores';
import { SigningKeys } from '../kms/signing-keys';

export interface SignAudit {
  operatorId: string | null;
  purpose: string;
  /** Key-open events are appended here; the caller writes them before it stores what was signed. */
  collect?: AuditRecord[];
}

export type SignFn = (tx: TransactionSerializableEIP1559, audit: SignAudit) => Promise<Hex>;

export abstract class TransactionSigner {
  /** Prepares signing for one signer (loads what it needs once), returning the function that signs. */
  abstract open(signer: { kind: KeyOwnerKind; id: string }): Promise<SignFn>;
}

@Injectable()
export class EnvelopeTransactionSigner extends TransactionSigner {
  constructor(
    private readonly stores: SealedKeyStores,
    private readonly keys: SigningKeys,
  ) {
    super();
  }

  async open(signer: { kind: KeyOwnerKind; id: string }): Promise<SignFn> {
    const sealed = await this.stores.load(signer);
    return (tx, audit) =>
      this.keys.withSigner(
        signer,
        sealed,
        { actor: { type: 'system' }, operatorId: audit.operatorId, purpose: audit.purpose, collect: audit.collect },
        (account) => account.signTransaction(tx),
      );
  }
}
