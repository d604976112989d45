/** Process-wide services every module may use: metrics. Imports no feature. */
import { Global, Module } from '@nestjs/common';
import { Metrics } from './metrics';

@Global()
@Module({ providers: [Metrics], exports: [Metrics] })
export class CommonModule {}
