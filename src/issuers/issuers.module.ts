import { Module } from '@nestjs/common';
import { FirmsModule } from '../operators/firms.repository';
import { PlatformActionsModule } from '../platform-actions/platform-actions.module';
import { IssuersController } from './issuers.controller';
import { IssuersRepository } from './issuers.repository';
import { IssuersService } from './issuers.service';

/** `issuers` owns issuers (with their sealed signing keys) and issuer_grants. */
@Module({
  imports: [FirmsModule, PlatformActionsModule],
  controllers: [IssuersController],
  providers: [IssuersRepository, IssuersService],
  exports: [IssuersService],
})
export class IssuersModule {}
