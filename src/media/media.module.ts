import { Global, Module } from '@nestjs/common';
import { UsersModule } from '../users/users.module';
import { MediaController } from './media.controller';
import { MediaRepository } from './media.repository';
import { MediaService } from './media.service';

/**
 * Secure-room media and their chain of custody. Global so that wallet issuance (users)
 * records media without users importing media; media imports users to scope reads.
 */
@Global()
@Module({
  imports: [UsersModule],
  controllers: [MediaController],
  providers: [MediaRepository, MediaService],
  exports: [MediaService],
})
export class MediaModule {}
