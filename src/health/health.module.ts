import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { Metrics } from './metrics';
import { ReadinessContributors } from './readiness-contributors';

@Global()
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [Metrics, ReadinessContributors],
  exports: [Metrics, ReadinessContributors],
})
export class HealthModule {}
