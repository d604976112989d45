/**
 * The API side of governance: who governance is (the token contracts' admin) and the queue of
 * governance transactions. The API never signs these rows unless GOVERNANCE_SIGNER=local (the
 * development key, signed by the API's own pipeline); under `kms` the governance process signs
 * them (`npm run governance`), so the API's credentials need no `kms:Sign`.
 *
 * Governance grants the agent role only to addresses kagi generated (a firm's or an issuer's
 * signing key, or governance itself on v1 tokens); anything else is refused before a row exists.
 */
import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { getAddress, type Address } from 'viem';
import { ChainService } from '../chain/chain.service';
import { GasFunding } from '../chain/gas-funding';
import { ReadinessContributors } from '../health/readiness-contributors';
import { firstLine } from '../common/logging';
import { SealedKeyStores } from '../kms/sealed-key-stores';
import { SigningKeys } from '../kms/signing-keys';
import type { TransactionResponse } from '../transactions/dto/transaction.response';
import { TransactionHooks } from '../transactions/hooks';
import { TransactionQueue } from '../transactions/queue';
import { ExternalGovernanceSigner, type GovernanceProposal } from './external-governance-signer';
import { GOVERNANCE_SIGNER_ID, governanceCall, governanceCallBuilder, type GovernanceKind } from './governance-calls';
import { governanceKeyStore } from './governance-key-store';
import { GovernanceKeys } from './governance-keys';
import { GovernanceKeysRepository } from './governance-keys.repository';
import { GovernanceSigner } from './governance-signer';
import { ProposalsRepository } from './proposals.repository';

export interface GovernanceIdentity {
  kind: 'governance';
  id: string;
  address: Address;
}

export interface GovernanceRequest {
  kind: GovernanceKind;
  token: { id: string; address: string };
  /** The firm the row is for (it shows in the firm's lists); governance acts as `system` on its behalf. */
  onBehalfOf: string;
  /** grant-agent / revoke-agent: the agent address. */
  account?: Address;
  /** Higher first; absent: in order. The emergency pause uses it to jump the queue. */
  priority?: number;
  legalBasis?: Record<string, unknown> | null;
  /** grant-agent of a key kagi has just generated and not yet stored on its owner (a rotation's new key). */
  generatedKey?: boolean;
  /** What the transaction shows as its request (besides kind and account). */
  request?: Record<string, unknown>;
}

@Injectable()
export class GovernanceService implements OnModuleInit {
  private readonly logger = new Logger('Governance');
  private identityP: Promise<GovernanceIdentity> | undefined;

  constructor(
    private readonly signer: GovernanceSigner,
    private readonly queue: TransactionQueue,
    private readonly hooks: TransactionHooks,
    private readonly stores: SealedKeyStores,
    private readonly keys: SigningKeys,
    private readonly gas: GasFunding,
    private readonly keyRows: GovernanceKeysRepository,
    private readonly chain: ChainService,
    private readonly readiness: ReadinessContributors,
    private readonly proposals: ProposalsRepository,
  ) {}

  onModuleInit(): void {
    this.hooks.setGovernanceCallBuilder(governanceCallBuilder);
    this.stores.register(governanceKeyStore(this.keyRows, this.signer));
    // Shown in readiness, never failing it: a governance signer low on gas must not stop the API.
    this.readiness.add('governance', () => this.gasState());
  }

  /** The governance signer's address and gas (about ten role changes' worth is "enough"). */
  async gasState(): Promise<Record<string, unknown>> {
    try {
      const me = await this.identity();
      if (this.signer.kind === 'external') return { signer: 'external', address: me.address };
      const [balance, fees] = await Promise.all([
        this.chain.client.getBalance({ address: me.address }),
        this.chain.client.estimateFeesPerGas(),
      ]);
      const wanted = (fees.maxFeePerGas ?? fees.gasPrice ?? 0n) * 1_000_000n;
      return { signer: this.signer.kind, address: me.address, gasBalance: balance.toString(), low: balance < wanted };
    } catch (e) {
      return { signer: this.signer.kind, error: firstLine(e) };
    }
  }

  get kind(): GovernanceSigner['kind'] {
    return this.signer.kind;
  }

  /** The admin address of every token contract, and the signer id of governance rows. */
  identity(): Promise<GovernanceIdentity> {
    this.identityP ??= this.resolve().catch((e: unknown) => {
      this.identityP = undefined;
      throw e;
    });
    return this.identityP;
  }

  private async resolve(): Promise<GovernanceIdentity> {
    if (this.signer.kind !== 'local')
      return { kind: 'governance', id: GOVERNANCE_SIGNER_ID, address: getAddress(await this.signer.address()) };
    const row = await new GovernanceKeys(this.keyRows, this.keys).ensure();
    // The development key pays its own gas: funded from Anvil's first account where enabled.
    if (this.gas.enabled)
      await this.gas.fund(row.sealed.address).catch((e: unknown) => this.logger.warn(`governance gas funding failed: ${firstLine(e)}`));
    return { kind: 'governance', id: row.id, address: getAddress(row.sealed.address) };
  }

  /** Queues one governance transaction in `em` (the caller's database transaction). */
  async enqueue(em: EntityManager, r: GovernanceRequest): Promise<TransactionResponse> {
    const me = await this.identity();
    if (r.kind === 'grant-agent' && !r.generatedKey) await this.assertKagiAddress(r.account, me.address);
    const args: Record<string, unknown> = {};
    if (r.account) args.account = getAddress(r.account);
    if (r.priority !== undefined) args.priority = r.priority;
    const to = getAddress(r.token.address);
    const proposal = this.signer instanceof ExternalGovernanceSigner ? await this.proposalOf(r, to, args) : undefined;
    const tx = await this.queue.enqueue(em, randomUUID(), {
      tokenId: r.token.id,
      kind: r.kind,
      principal: { type: 'system', onBehalfOf: r.onBehalfOf },
      signer: me,
      to,
      args,
      request: {
        ...(r.account ? { account: getAddress(r.account) } : {}),
        ...r.request,
        ...(r.legalBasis ? { legalBasis: r.legalBasis } : {}),
      },
      ...(proposal ? { awaitingSignature: { callData: proposal.data } } : {}),
    });
    if (proposal) await this.proposals.insert(em, tx.id, proposal);
    return tx;
  }

  /** GOVERNANCE_SIGNER=external: the call the multisig is asked to execute (built now: nothing signs it here). */
  private async proposalOf(r: GovernanceRequest, to: Address, args: Record<string, unknown>): Promise<GovernanceProposal> {
    const call = governanceCall({ kind: r.kind, toAddress: to, callArgs: args });
    if ('failed' in call) throw new Error(`governance ${r.kind}: ${call.message}`);
    // The chain id read (and checked against CHAIN_ID) once per process, not a node read per proposal.
    const chainId = (await this.chain.chain()).id;
    const what = r.account ? `${r.kind} ${getAddress(r.account)}` : r.kind;
    return (this.signer as ExternalGovernanceSigner).propose({
      to,
      data: call.data,
      chainId,
      description: `kagi: ${what} on token ${r.token.id} (${to}) for firm ${r.onBehalfOf}`,
    });
  }

  /** After the caller's commit (API-signed development key): sign now rather than at the next poll. */
  wake(): void {
    this.queue.wake();
  }

  private async assertKagiAddress(account: Address | undefined, self: Address): Promise<void> {
    if (!account) throw new Error('grant-agent needs an account');
    const a = getAddress(account);
    if (a === self) return;
    for (const store of this.stores.all()) {
      if (store.kind !== 'operator' && store.kind !== 'issuer') continue;
      if ((await store.owners()).some((o) => getAddress(o.address) === a)) return;
    }
    throw new Error(`governance grants the agent role only to addresses kagi generated; ${a} is none of them`);
  }
}
