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

@Injectable()
export class FeePolicy {
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

  /** The node's estimate, capped; undefined when the node cannot be reached. */
  async quote(): Promise<Fees | undefined> {
    const est = await this.chain.client.estimateFeesPerGas().catch(() => undefined);
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
