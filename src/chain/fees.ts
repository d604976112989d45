/**
 * The fee policy (FEE_MAX_GWEI, FEE_BUMP_PERCENT, TX_STUCK_AFTER_SECONDS): EIP-1559 fees from the
 * node's estimate, capped; a stuck transaction is replaced with fees raised by the bump, capped.
 */
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ChainService } from './chain.service';

export interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/** How long one fee estimate serves (well under a block on any chain kagi targets). */
const QUOTE_TTL_MS = 1_000;

@Injectable()
export class FeePolicy {
  private cached: { at: number; fees: Promise<Fees | undefined> } | undefined;

  constructor(
    private readonly chain: ChainService,
    private readonly config: AppConfig,
  ) {}

  get stuckAfterMs(): number {
    return this.config.chain.fees.stuckAfterSeconds * 1000;
  }

  get bumpPercent(): number {
    return this.config.chain.fees.bumpPercent;
  }

  /**
   * The node's estimate, capped; undefined when the node cannot be reached. One estimate (a block
   * read and a priority-fee read) serves every signing round of QUOTE_TTL_MS, and concurrent
   * callers share the read in flight; a failed read is not kept.
   */
  quote(): Promise<Fees | undefined> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < QUOTE_TTL_MS) return this.cached.fees;
    const fees = this.read();
    this.cached = { at: now, fees };
    void fees.then((f) => {
      if (!f && this.cached?.fees === fees) this.cached = undefined;
    });
    return fees;
  }

  private async read(): Promise<Fees | undefined> {
    const est = await this.chain.pipeline.estimateFeesPerGas().catch(() => undefined);
    if (!est) return undefined;
    const cap = this.config.chain.fees.maxFeeWei;
    const maxFeePerGas = est.maxFeePerGas > cap ? cap : est.maxFeePerGas;
    const maxPriorityFeePerGas = est.maxPriorityFeePerGas > maxFeePerGas ? maxFeePerGas : est.maxPriorityFeePerGas;
    return { maxFeePerGas, maxPriorityFeePerGas };
  }

  /** Fees for replacing `old`; undefined when the cap leaves no room for a higher fee. */
  async bump(old: Fees): Promise<Fees | undefined> {
    const { bumpPercent, maxFeeWei } = this.config.chain.fees;
    const up = (v: bigint) => (v * BigInt(100 + bumpPercent)) / 100n;
    const quote = await this.quote();
    let maxFeePerGas = up(old.maxFeePerGas);
    if (quote && quote.maxFeePerGas > maxFeePerGas) maxFeePerGas = quote.maxFeePerGas;
    if (maxFeePerGas > maxFeeWei) maxFeePerGas = maxFeeWei;
    if (maxFeePerGas <= old.maxFeePerGas) return undefined;
    const tip = up(old.maxPriorityFeePerGas);
    return { maxFeePerGas, maxPriorityFeePerGas: tip > maxFeePerGas ? maxFeePerGas : tip };
  }
}
