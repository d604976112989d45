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
const ATTEMPTS = 3;

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

  /**
   * Best effort, three attempts half a second apart (the dev account is shared by every process
   * on the node, whose sends may collide): a final failure is logged; the signer's transactions
   * then report out-of-gas.
   */
  async fund(address: Address): Promise<void> {
    if (!this.enabled) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.send(address);
        return;
      } catch (e) {
        if (attempt >= ATTEMPTS) {
          this.logger.warn(`could not fund ${address}: ${firstLine(e)}`);
          return;
        }
        this.logger.warn(`funding ${address} failed (attempt ${attempt} of ${ATTEMPTS}): ${firstLine(e)}; trying again`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async send(address: Address): Promise<void> {
    // Funded already (an earlier attempt that seemed to fail went through): nothing to send.
    if ((await this.chain.client.getBalance({ address })) >= FUNDING / 2n) return;
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
  }
}
