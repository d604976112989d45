/**
 * `platform-actions` owns platform_actions: what waits for a second admin (PLATFORM_FOUR_EYES).
 * Other modules import it and register a handler per kind (PlatformActions.register); it
 * imports no feature module.
 */
import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { PlatformActionsController } from './platform-actions.controller';
import { PlatformActionsRepository } from './platform-actions.repository';
import { PlatformActions } from './platform-actions.service';

@Module({
  imports: [AuthModule],
  controllers: [PlatformActionsController],
  providers: [PlatformActionsRepository, PlatformActions],
  exports: [PlatformActions],
})
export class PlatformActionsModule {}
