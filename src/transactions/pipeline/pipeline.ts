/**
 * The signing pipeline (design.md "Transaction pipeline"): three stages that overlap —
 * signing (signing.ts), broadcasting (broadcasting.ts) and receipts with recovery
 * (receipts.ts, recovery.ts). This class only runs them: two loops, woken by work and by each
 * other, with poll timers as the safety net.
 *
 * KMS or chain outages keep rows queued with `error` filled and a backoff; never dropped.
 * Never signs a row twice for one nonce except as a fee bump, and never broadcasts bytes
 * that are not committed.
 */
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { firstLine } from '../../common/logging';
import { Loop } from '../../common/loop';
import { AppConfig } from '../../config/app-config';
import { Broadcasting } from './broadcasting';
import { Receipts } from './receipts';
import { Signing } from './signing';
import { PipelineState } from './state';

const SIGN_POLL_MS = 200;
const RECEIPT_POLL_MS = 250;

@Injectable()
export class Pipeline implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Pipeline');
  private readonly signingLoop: Loop;
  private readonly receiptLoop: Loop;

  constructor(
    private readonly config: AppConfig,
    private readonly state: PipelineState,
    private readonly broadcasting: Broadcasting,
    signing: Signing,
    receipts: Receipts,
  ) {
    const warn = (what: string) => (e: unknown) => this.logger.warn(`${what} failed: ${firstLine(e)}`);
    this.signingLoop = new Loop(SIGN_POLL_MS, () => signing.round(), warn('signing round'));
    this.receiptLoop = new Loop(RECEIPT_POLL_MS, () => receipts.round(), warn('receipt round'));
    state.wakeSigning = () => this.signingLoop.wake();
    state.wakeReceipts = () => this.receiptLoop.wake();
  }

  onApplicationBootstrap(): void {
    if (this.config.offline) return;
    this.signingLoop.start();
    this.receiptLoop.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.state.stopping = true;
    await this.signingLoop.stop();
    await this.broadcasting.drained();
    await this.receiptLoop.stop();
  }

  /** Called after a row is queued, for latency; the poll loop is the safety net. */
  wake(): void {
    this.signingLoop.wake();
  }
}
