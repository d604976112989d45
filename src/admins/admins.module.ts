/** `admins` owns admin_profiles: more platform admins (POST/GET /v1/admins). */
import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { AdminsController } from './admins.controller';
import { AdminsRepository } from './admins.repository';
import { AdminsService } from './admins.service';

@Module({
  imports: [AuthModule],
  controllers: [AdminsController],
  providers: [AdminsRepository, AdminsService],
})
export class AdminsModule {}
