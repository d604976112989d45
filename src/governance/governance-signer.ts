/**
 * The GovernanceSigner port: who holds the token contracts' admin role (API contract,
 * "Governance and key lifecycle"). An abstract class used as the DI token, as KeyManagement
 * is. Adapters, chosen by GOVERNANCE_SIGNER:
 * - `kms`: an AWS KMS ECC_SECG_P256K1 key through `Sign`; the key never leaves KMS;
 * - `external`: an address (a multisig) that signs outside kagi: kagi only writes proposals;
 * - `local`: a sealed key (development and tests only; production refuses it in config).
 */
import {
  hashMessage,
  hashTypedData,
  keccak256,
  serializeSignature,
  serializeTransaction,
  type Address,
  type Hex,
  type LocalAccount,
  type Signature,
  type TransactionSerializable,
} from 'viem';
import { toAccount } from 'viem/accounts';
import type { GovernanceSignerKind } from '../config/app-config';

export type { GovernanceSignerKind };

export abstract class GovernanceSigner {
  abstract readonly kind: GovernanceSignerKind;
  /** The admin address of every token contract. */
  abstract address(): Promise<Address>;
  /**
   * A viem account that signs as governance (for wallet actions and `signTransaction`).
   * `external` has none: it throws GovernanceSignsExternallyError.
   */
  abstract account(): Promise<LocalAccount>;

  /** The signed, serialized transaction, ready for `eth_sendRawTransaction`. */
  async signTransaction(tx: TransactionSerializable): Promise<Hex> {
    return (await this.account()).signTransaction(tx);
  }
}

/** GOVERNANCE_SIGNER=external: kagi holds no governance key; the transaction becomes a proposal. */
export class GovernanceSignsExternallyError extends Error {
  constructor() {
    super('governance signs outside kagi (GOVERNANCE_SIGNER=external): write an unsigned proposal instead');
    this.name = 'GovernanceSignsExternallyError';
  }
}

/**
 * KMS refused the governance key for a reason a retry does not cure (access denied, key
 * disabled or pending deletion, wrong key spec, the address not the pinned one): fail
 * closed. `reason` is the KMS exception name or a fixed phrase: no signature, no key bytes.
 */
export class GovernanceKeyRefusedError extends Error {
  constructor(readonly reason: string) {
    super(`governance key refused: ${reason}`);
    this.name = 'GovernanceKeyRefusedError';
  }
}

/**
 * A viem account over a digest signer (KMS): every signature is made over the keccak hash
 * viem would sign, and transactions are serialized with it exactly as a local key's are.
 */
export function digestSignerAccount(address: Address, signDigest: (hash: Hex) => Promise<Signature>): LocalAccount {
  return toAccount({
    address,
    sign: async ({ hash }) => serializeSignature(await signDigest(hash)),
    signMessage: async ({ message }) => serializeSignature(await signDigest(hashMessage(message))),
    signTypedData: async (typedData) => serializeSignature(await signDigest(hashTypedData(typedData))),
    signTransaction: async (transaction, options) => {
      const serializer = options?.serializer ?? serializeTransaction;
      const hash = keccak256(await serializer(transaction));
      return serializer(transaction, await signDigest(hash));
    },
  });
}
