/** Typed reads of a token contract; an unreachable node is 503 CHAIN_UNAVAILABLE. */
import { Injectable } from '@nestjs/common';
import type { Address } from 'viem';
import { ChainService, ChainUnavailableError } from '../chain/chain.service';
import { securityTokenAbi as abi } from '../chain/contracts/security-token.abi';

const unavailable = (): never => {
  throw new ChainUnavailableError();
};

@Injectable()
export class TokenReads {
  constructor(private readonly chain: ChainService) {}

  head(): Promise<bigint> {
    return this.chain.client.getBlockNumber().catch(unavailable);
  }

  balanceOf(token: Address, holder: Address, blockNumber?: bigint): Promise<bigint> {
    return this.chain.client
      .readContract({ address: token, abi, functionName: 'balanceOf', args: [holder], blockNumber })
      .catch(unavailable);
  }

  isFrozen(token: Address, holder: Address, blockNumber?: bigint): Promise<boolean> {
    return this.chain.client
      .readContract({ address: token, abi, functionName: 'isFrozen', args: [holder], blockNumber })
      .catch(unavailable);
  }

  paused(token: Address, blockNumber?: bigint): Promise<boolean> {
    return this.chain.client.readContract({ address: token, abi, functionName: 'paused', blockNumber }).catch(unavailable);
  }

  totalSupply(token: Address): Promise<bigint> {
    return this.chain.client.readContract({ address: token, abi, functionName: 'totalSupply' }).catch(unavailable);
  }
}
