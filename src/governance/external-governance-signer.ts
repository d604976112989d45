/**
 * GOVERNANCE_SIGNER=external: GOVERNANCE_ADDRESS (for example a multisig) holds the admin
 * role and signs outside kagi. kagi never signs as governance here: each governance
 * transaction becomes an unsigned proposal for storage (`GET /v1/governance/proposals`),
 * and its execution is recognised by its effect on chain.
 */
import { getAddress, isAddress, isHex, type Address, type Hex, type LocalAccount } from 'viem';
import { GovernanceSigner, GovernanceSignsExternallyError } from './governance-signer';

/** What the external signer is asked to execute; `value` in wei as a decimal string (JSON-safe). */
export interface GovernanceProposal {
  to: Address;
  data: Hex;
  value: string;
  chainId: number;
  description: string;
}

export interface ProposalRequest {
  to: Address;
  data: Hex;
  value?: bigint;
  chainId: number;
  description: string;
}

export class ExternalGovernanceSigner extends GovernanceSigner {
  readonly kind = 'external' as const;

  constructor(private readonly governanceAddress: Address) {
    super();
    if (!isAddress(governanceAddress, { strict: true })) throw new Error('GOVERNANCE_ADDRESS is not a checksummed address');
  }

  address(): Promise<Address> {
    return Promise.resolve(this.governanceAddress);
  }

  account(): Promise<LocalAccount> {
    return Promise.reject(new GovernanceSignsExternallyError());
  }

  /** The unsigned proposal of one governance transaction, checked field by field. */
  propose(tx: ProposalRequest): GovernanceProposal {
    if (!isAddress(tx.to, { strict: false })) throw new Error('proposal: `to` is not an address');
    if (!isHex(tx.data, { strict: true }) || tx.data.length % 2 !== 0) throw new Error('proposal: `data` is not hex bytes');
    if (!Number.isSafeInteger(tx.chainId) || tx.chainId <= 0) throw new Error('proposal: `chainId` is not a positive integer');
    const value = tx.value ?? 0n;
    if (value < 0n) throw new Error('proposal: `value` is negative');
    const description = tx.description.trim();
    if (!description) throw new Error('proposal: a description is required');
    return { to: getAddress(tx.to), data: tx.data, value: value.toString(), chainId: tx.chainId, description };
  }
}
