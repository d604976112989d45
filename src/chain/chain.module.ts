import { Global, Module } from '@nestjs/common';
import { ChainService } from './chain.service';
import { GasFunding } from './gas-funding';

@Global()
@Module({ providers: [ChainService, GasFunding], exports: [ChainService, GasFunding] })
export class ChainModule {}
