/**
 * GOVERNANCE_SIGNER=external: the multisig executes what kagi proposes; kagi never sees a hash.
 * A scheduled job reads each open proposal's effect on chain (the role granted or revoked, the
 * pause flag set or lifted) and, once it holds, ends the proposal `executed` and its
 * transaction `confirmed` in one database transaction, with the hooks of a mined receipt (so a
 * rotation step or a v1 emergency pause waiting on it goes on).
 */
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { getAddress } from 'viem';
import { ChainService } from '../chain/chain.service';
import { securityTokenAbi } from '../chain/contracts/security-token.abi';
import { firstLine } from '../common/logging';
import { Jobs } from '../jobs/jobs.service';
import { TransactionsService } from '../transactions/transactions.service';
import { ExternalGovernanceSigner } from './external-governance-signer';
import { AGENT_ROLE } from './governance-calls';
import { GovernanceSigner } from './governance-signer';
import { ProposalsRepository, type ProposalRow } from './proposals.repository';

const WATCH_JOB = 'governance.proposals';
const WATCH_EVERY_MS = 2_000;
const PER_ROUND = 100;

export interface ProposalView {
  id: string;
  transactionId: string;
  to: string;
  data: string;
  value: string;
  chainId: number;
  description: string;
  status: 'open' | 'executed';
}

@Injectable()
export class ProposalsService implements OnModuleInit {
  private readonly logger = new Logger('GovernanceProposals');

  constructor(
    private readonly repo: ProposalsRepository,
    private readonly signer: GovernanceSigner,
    private readonly chain: ChainService,
    private readonly transactions: TransactionsService,
    private readonly jobs: Jobs,
  ) {}

  onModuleInit(): void {
    if (!(this.signer instanceof ExternalGovernanceSigner)) return;
    this.jobs.register(WATCH_JOB, async () => void (await this.watch()), {
      schedule: { everyMs: WATCH_EVERY_MS },
      maxAttempts: 3,
      backoff: { baseMs: 1000, maxMs: 10_000 },
    });
  }

  async list(status: 'open' | 'executed' | undefined, limit = 100): Promise<{ items: ProposalView[] }> {
    const rows = await this.repo.list(status, limit);
    return {
      items: rows.map((r) => ({
        id: r.id,
        transactionId: r.transactionId,
        to: getAddress(r.to),
        data: r.data,
        value: r.value,
        chainId: r.chainId,
        description: r.description,
        status: r.status,
      })),
    };
  }

  /** One round: every open proposal whose effect holds on chain now is executed; answers how many. */
  async watch(): Promise<number> {
    let done = 0;
    for (const p of await this.repo.open(PER_ROUND)) {
      let holds: boolean;
      try {
        holds = await this.effectHolds(p);
      } catch (e) {
        this.logger.warn(`proposal ${p.id}: reading its effect failed: ${firstLine(e)}`);
        continue;
      }
      if (!holds) continue;
      const block = await this.chain.client.getBlockNumber();
      await this.repo.transaction(async (em) => {
        if (await this.repo.executed(em, p.id, block)) await this.transactions.confirmAwaiting(em, p.transactionId, block);
      });
      done++;
    }
    return done;
  }

  private async effectHolds(p: ProposalRow): Promise<boolean> {
    const address = getAddress(p.to);
    const abi = securityTokenAbi;
    const flag = (functionName: 'governancePaused' | 'paused') => this.chain.client.readContract({ address, abi, functionName });
    switch (p.kind) {
      case 'grant-agent':
      case 'revoke-agent': {
        if (!p.account) return false;
        const has = await this.chain.client.readContract({
          address,
          abi,
          functionName: 'hasRole',
          args: [AGENT_ROLE, getAddress(p.account)],
        });
        return p.kind === 'grant-agent' ? has : !has;
      }
      case 'governance-pause':
        return flag('governancePaused');
      case 'governance-unpause':
        return !(await flag('governancePaused'));
      case 'pause':
        return flag('paused');
      case 'unpause':
        return !(await flag('paused'));
      default:
        return false;
    }
  }
}
