/**
 * The governance process (`npm run governance`): its own Nest application context with
 * configuration, database, chain and the governance signer only. Under `kms` it holds the
 * one credential allowed `kms:Sign` on the governance key; the API holds none. Today it
 * resolves the signer, says `governance signer <kind> ready address=<address>`, watches the
 * signer's gas and runs the signing pipeline over governance rows only (PipelineState scope
 * `governance`): the same claim, nonce, broadcast and receipt stages as the API's, with the
 * GovernanceSigner as the TransactionSigner and the governance calls as the CallBuilder.
 * Queued emergency-pause rows (`priority`) are claimed first.
 *
 * Not here: the API's transition hooks (webhook outbox rows, token finality handlers). A
 * governance row's confirmation is read from the transactions table by whoever waits for it.
 */
import { Global, Injectable, Logger, Module, type DynamicModule, type OnModuleDestroy } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { formatEther, type Address } from 'viem';
import { AuditSink } from '../audit/audit-sink';
import { AuditEventsRepository } from '../audit/audit-events.repository';
import { DatabaseAuditSink } from '../audit/database-audit-sink';
import { ChainModule } from '../chain/chain.module';
import { ChainService } from '../chain/chain.service';
import { GasFunding } from '../chain/gas-funding';
import { firstLine, pinoParams } from '../common/logging';
import { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { DatabaseModule } from '../database/database.module';
import { Metrics } from '../common/metrics';
import { KmsUnavailableError } from '../kms/key-management';
import { KmsModule } from '../kms/kms.module';
import { Notifier } from '../database/notifier';
import { TransactionHooks } from '../transactions/hooks';
import { Broadcasting } from '../transactions/pipeline/broadcasting';
import { Pipeline } from '../transactions/pipeline/pipeline';
import { Receipts } from '../transactions/pipeline/receipts';
import { Recovery } from '../transactions/pipeline/recovery';
import { Signing } from '../transactions/pipeline/signing';
import { PipelineState } from '../transactions/pipeline/state';
import { FinalityWaiters } from '../transactions/pipeline/waiters';
import { TransactionSigner } from '../transactions/transaction-signer';
import { PipelineRepository } from '../transactions/pipeline/pipeline.repository';
import { TransactionsRepository } from '../transactions/transactions.repository';
import { governanceCallBuilder } from './governance-calls';
import { GovernanceModule } from './governance.module';
import { GovernanceSigner } from './governance-signer';
import { GovernanceTransactionSigner } from './governance-transaction-signer';

/** Gas for about ten role grants or revocations (~100k gas each) at the node's current max fee. */
const GAS_UNITS_TO_KEEP = 1_000_000n;
const GAS_CHECK_EVERY_MS = 60_000;
/** How long start-up waits for an unreachable or throttling KMS before giving up. */
const START_RETRY_MS = 30_000;

export interface GasStatus {
  balanceWei: bigint;
  /** What the signer should hold: GAS_UNITS_TO_KEEP at the current max fee per gas. */
  wantedWei: bigint;
  low: boolean;
}

@Injectable()
export class GovernanceProcess implements OnModuleDestroy {
  private readonly logger = new Logger('Governance');
  private timer: NodeJS.Timeout | undefined;
  private addr: Address | undefined;

  constructor(
    private readonly signer: GovernanceSigner,
    private readonly chain: ChainService,
    private readonly gas: GasFunding,
    state: PipelineState,
    hooks: TransactionHooks,
  ) {
    // Before the pipeline starts (application bootstrap): this process signs governance rows only.
    state.scope = 'governance';
    hooks.setGovernanceCallBuilder(governanceCallBuilder);
  }

  /** Resolves the signer's address (retrying a KMS outage for a while), logs the ready line, starts the gas watch. */
  async start(): Promise<Address> {
    const deadline = Date.now() + START_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        this.addr = await this.signer.address();
        break;
      } catch (e) {
        if (!(e instanceof KmsUnavailableError) || Date.now() > deadline) throw e;
        this.logger.warn(`governance signer not reachable yet (attempt ${attempt}): ${firstLine(e)}`);
        await new Promise((r) => setTimeout(r, Math.min(500 * attempt, 5_000)));
      }
    }
    this.logger.log(`governance signer ${this.signer.kind} ready address=${this.addr}`);
    if (this.signer.kind !== 'external') {
      await this.watchGas();
      this.timer = setInterval(() => void this.watchGas(), GAS_CHECK_EVERY_MS);
    } else {
      this.logger.log('governance signs externally: kagi pays no governance gas');
    }
    return this.addr;
  }

  /** The signer's balance against what it should keep; in the embedded default an empty signer is funded first. */
  async gasStatus(address: Address): Promise<GasStatus> {
    let balanceWei = await this.chain.client.getBalance({ address });
    if (balanceWei === 0n && this.gas.enabled) {
      await this.gas.fund(address);
      balanceWei = await this.chain.client.getBalance({ address });
    }
    const fees = await this.chain.client.estimateFeesPerGas();
    const wantedWei = (fees.maxFeePerGas ?? fees.gasPrice ?? 0n) * GAS_UNITS_TO_KEEP;
    return { balanceWei, wantedWei, low: balanceWei < wantedWei };
  }

  private async watchGas(): Promise<void> {
    if (!this.addr) return;
    try {
      const g = await this.gasStatus(this.addr);
      if (g.low)
        this.logger.warn(
          `governance signer ${this.addr} is low on gas: balance=${formatEther(g.balanceWei)} ETH, keep at least ${formatEther(g.wantedWei)} ETH`,
        );
      else this.logger.log(`governance gas balance=${formatEther(g.balanceWei)} ETH`);
    } catch (e) {
      this.logger.warn(`governance gas check failed (chain unreachable?): ${firstLine(e)}`);
    }
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** What the process needs besides config, database and chain: metrics for the chain client. */
@Global()
@Module({ providers: [Metrics], exports: [Metrics] })
class GovernanceRuntimeModule {}

/** Every signature is audited (`governance.sign`; `key.open` for the development key). */
@Global()
@Module({ providers: [AuditEventsRepository, { provide: AuditSink, useClass: DatabaseAuditSink }], exports: [AuditSink] })
class GovernanceAuditModule {}

/** The pipeline's stages over governance rows, with the governance signer behind TransactionSigner. */
@Module({
  imports: [GovernanceModule],
  providers: [
    TransactionsRepository,
    PipelineRepository,
    TransactionHooks,
    PipelineState,
    Signing,
    Broadcasting,
    Receipts,
    Recovery,
    FinalityWaiters,
    Pipeline,
    Notifier,
    { provide: TransactionSigner, useClass: GovernanceTransactionSigner },
  ],
  exports: [PipelineState, TransactionHooks],
})
class GovernancePipelineModule {}

@Module({})
export class GovernanceProcessModule {
  static for(config: AppConfig): DynamicModule {
    const local = config.governance.signer === 'local';
    return {
      module: GovernanceProcessModule,
      imports: [
        ConfigModule,
        DatabaseModule,
        GovernanceRuntimeModule,
        ChainModule,
        LoggerModule.forRootAsync({ inject: [AppConfig], useFactory: (c: AppConfig) => pinoParams(c.logLevel) }),
        // The master key only for the development key; `kms` signs with its own client.
        ...(local ? [KmsModule] : []),
        GovernanceAuditModule,
        GovernanceModule,
        GovernancePipelineModule,
      ],
      providers: [GovernanceProcess],
    };
  }
}
