/**
 * Embedded default only (DEV_GAS_FUNDING=true, refused in production): new signer
 * addresses get gas from Anvil's first dev account, which Anvil keeps unlocked, so no
 * key is involved. Elsewhere an unfunded signer's transactions fail with SIGNER_OUT_OF_GAS.
 */
import { Injectable, Logger } from '@nestjs/common';
import { parseEther, type Address } from 'viem';
import { firstLine } from '../common/logging';
import { AppConfig } from '../config/app-config';
import { ChainService } from './chain.service';

const FUNDING = parseEther('100');

@Injectable()
export class GasFunding {
  private readonly logger = new Logger('GasFunding');

  constructor(
    private readonly config: AppConfig,
    private readonly chain: ChainService,
  ) {}

  get enabled(): boolean {
    return this.config.devGasFunding && !this.config.isProduction;
  }

  /** Best effort: a failure is logged; the signer's transactions then report out-of-gas. */
  async fund(address: Address): Promise<void> {
    if (!this.enabled) return;
    try {
      const [funder] = await this.chain.client.request<{ Method: 'eth_accounts'; Parameters: undefined; ReturnType: Address[] }>({
        method: 'eth_accounts',
      });
      if (!funder) throw new Error('the node has no unlocked dev account');
      const hash = await this.chain.sender.request<{
        Method: 'eth_sendTransaction';
        Parameters: [{ from: Address; to: Address; value: `0x${string}` }];
        ReturnType: `0x${string}`;
      }>({
        method: 'eth_sendTransaction',
        params: [{ from: funder, to: address, value: `0x${FUNDING.toString(16)}` }],
      });
      await this.chain.client.waitForTransactionReceipt({ hash, timeout: 30_000 });
      this.logger.log(`funded ${address} with 100 ETH from ${funder}`);
    } catch (e) {
      this.logger.warn(`could not fund ${address}: ${firstLine(e)}`);
    }
  }
}
