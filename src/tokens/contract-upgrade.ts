/**
 * Serving tokens across contract versions (issue: contract v2):
 * - each active token's deployed version() is read at start-up and compared with what kagi
 *   stored; a mismatch shows in readiness (`contracts`) and never stops start-up;
 * - firms created before the keyless custody rule move their custody once from the signing
 *   address to the keyless address: in one database transaction (under a lock on the firm) the
 *   firm switches to its keyless address and a `custody-migration` system transaction is queued
 *   per token holding custody (the ledger's amount; the ledger itself is untouched). Exactly
 *   once: a second run finds the firm switched. A firm with custody movements still in flight
 *   is migrated at the next attempt.
 */
import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { getAddress } from 'viem';
import { custodyAddressOf } from '../chain/custody-address';
import { firstLine } from '../common/logging';
import { Loop } from '../common/loop';
import { AppConfig } from '../config/app-config';
import { ReadinessContributors } from '../health/readiness-contributors';
import { OperatorsService } from '../operators/operators.service';
import { TransactionQueue } from '../transactions/queue';
import { TokenReads } from './token-reads';
import { TokensRepository } from './tokens.repository';

const RETRY_MS = 10_000;

@Injectable()
export class ContractUpgrade implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('ContractUpgrade');
  private versions: { checked: number; mismatches: Array<{ tokenId: string; stored: number; onChain: number | null }> } | undefined;
  private readonly loop = new Loop(
    RETRY_MS,
    () => this.run(),
    (e) => this.logger.warn(`contract upgrade step failed: ${firstLine(e)}`),
  );
  private done = false;

  constructor(
    private readonly repo: TokensRepository,
    private readonly reads: TokenReads,
    private readonly operators: OperatorsService,
    private readonly queue: TransactionQueue,
    private readonly readiness: ReadinessContributors,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.readiness.add('contracts', async () => this.versions ?? { pending: 'not checked yet' });
  }

  onApplicationBootstrap(): void {
    if (!this.config.offline) this.loop.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.loop.stop();
  }

  private async run(): Promise<boolean> {
    if (this.done) return false;
    if (!this.versions) this.versions = await this.checkVersions();
    this.done = await this.migrateCustody();
    return false;
  }

  async checkVersions(): Promise<{ checked: number; mismatches: Array<{ tokenId: string; stored: number; onChain: number | null }> }> {
    const tokens = await this.repo.allActive();
    const found = await Promise.all(tokens.map((t) => this.reads.version(t.address!)));
    const mismatches = tokens
      .map((t, i) => ({ tokenId: t.id, stored: t.contractVersion, onChain: found[i] ?? null }))
      .filter((m) => m.onChain !== m.stored);
    for (const m of mismatches)
      this.logger.warn(`token ${m.tokenId}: stored contract version ${m.stored}, on chain ${m.onChain ?? 'unknown'}`);
    return { checked: tokens.length, mismatches };
  }

  /** True when every firm uses its keyless custody address. */
  async migrateCustody(): Promise<boolean> {
    let all = true;
    for (const firm of await this.operators.withLegacyCustody()) {
      if (await this.queue.custodyInFlight(firm.id)) {
        all = false;
        continue;
      }
      const keyless = custodyAddressOf(firm.id);
      const queued = await this.repo.transaction(async (em) => {
        if (!(await this.operators.adoptKeylessCustody(em, firm.id))) return 0;
        let n = 0;
        for (const { token, amount } of await this.repo.custodyHoldings(em, firm.id)) {
          await this.queue.enqueue(em, randomUUID(), {
            tokenId: token.id,
            kind: 'custody-migration',
            principal: { type: 'system', onBehalfOf: firm.id },
            signer: { kind: token.signerKind, id: token.signerId, address: token.signerAddress },
            to: getAddress(token.address!),
            args: { from: firm.custodyAddress, to: keyless, amount },
            request: { from: firm.custodyAddress, to: keyless, amount },
          });
          n++;
        }
        return n;
      });
      this.logger.log(`firm ${firm.id}: custody moves to its keyless address ${keyless} (${queued} token(s) queued)`);
    }
    if (all) this.queue.wake();
    return all;
  }
}
