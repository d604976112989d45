import { Global, Module } from '@nestjs/common';
import { FirmDirectory } from '../auth/firm-directory';
import { NotificationsModule } from '../notifications/notifications.module';
import { OperatorsController } from './operators.controller';
import { OperatorsRepository } from './operators.repository';
import { OperatorsService } from './operators.service';
import { StaffRepository } from './staff.repository';

/** Global: the auth module's strategies read staff state through the FirmDirectory it provides. */
@Global()
@Module({
  imports: [NotificationsModule],
  controllers: [OperatorsController],
  providers: [OperatorsService, OperatorsRepository, StaffRepository, { provide: FirmDirectory, useExisting: StaffRepository }],
  exports: [OperatorsService, FirmDirectory],
})
export class OperatorsModule {}
