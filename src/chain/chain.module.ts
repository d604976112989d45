import { Global, Module } from '@nestjs/common';
import { ChainService } from './chain.service';
import { FeePolicy } from './fees';
import { GasFunding } from './gas-funding';
import { Nonces } from './nonces';

/** The chain port: viem clients, nonces (the signer_nonces table), the fee policy, dev gas funding. Imports no feature. */
@Global()
@Module({ providers: [ChainService, GasFunding, Nonces, FeePolicy], exports: [ChainService, GasFunding, Nonces, FeePolicy] })
export class ChainModule {}
