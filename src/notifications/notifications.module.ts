import { Global, Module } from '@nestjs/common';
import { MailWorker } from './mail-worker';
import { MailRepository } from './mail.repository';
import { NotificationsController } from './notifications.controller';
import { NotificationsRepository } from './notifications.repository';
import { NotificationsService } from './notifications.service';
import { PersonalMail } from './personal-mail';

/** A sink: imports no feature module. */
@Global()
@Module({
  controllers: [NotificationsController],
  providers: [NotificationsService, NotificationsRepository, MailWorker, MailRepository, PersonalMail],
  exports: [NotificationsService, MailWorker, PersonalMail],
})
export class NotificationsModule {}
