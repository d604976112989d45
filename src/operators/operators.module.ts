import { Global, Module } from '@nestjs/common';
import { FirmDirectory } from '../auth/firm-directory';
import { NotificationsModule } from '../notifications/notifications.module';
import { ApplicationsController } from './applications.controller';
import { ApplicationsRepository } from './applications.repository';
import { ApplicationsService } from './applications.service';
import { ControlChangesRepository } from './control-changes.repository';
import { ControlChangesService } from './control-changes.service';
import { OperatorsController } from './operators.controller';
import { OperatorsRepository } from './operators.repository';
import { OperatorsService } from './operators.service';
import { StaffController } from './staff.controller';
import { StaffRepository } from './staff.repository';
import { StaffService } from './staff.service';

/** Global: the auth module's strategies read staff state through the FirmDirectory it provides. */
@Global()
@Module({
  imports: [NotificationsModule],
  controllers: [OperatorsController, StaffController, ApplicationsController],
  providers: [
    OperatorsService,
    OperatorsRepository,
    StaffRepository,
    StaffService,
    ControlChangesRepository,
    ControlChangesService,
    ApplicationsRepository,
    ApplicationsService,
    { provide: FirmDirectory, useExisting: StaffRepository },
  ],
  exports: [OperatorsService, StaffService, ControlChangesService, FirmDirectory],
})
export class OperatorsModule {}
