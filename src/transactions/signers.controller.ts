import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../common/principal';
import { ApiProblems } from '../common/api-problems';
import { TransactionsService } from './transactions.service';

@ApiTags('transactions')
@ApiBearerAuth()
@Controller('v1/signers')
export class SignersController {
  constructor(private readonly transactions: TransactionsService) {}

  @Get()
  @Roles('admin')
  @ApiOperation({ summary: 'Signing keys with queue depth, next nonce, gas balance and hold' })
  @ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'CHAIN_UNAVAILABLE')
  list() {
    return this.transactions.signers();
  }
}
