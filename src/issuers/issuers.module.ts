import { Module } from '@nestjs/common';
import { OperatorsModule } from '../operators/operators.module';
import { IssuersController } from './issuers.controller';
import { IssuersRepository } from './issuers.repository';
import { IssuersService } from './issuers.service';

/** `issuers` owns issuers (with their sealed signing keys) and issuer_grants. */
@Module({
  imports: [OperatorsModule],
  controllers: [IssuersController],
  providers: [IssuersRepository, IssuersService],
  exports: [IssuersService],
})
export class IssuersModule {}
