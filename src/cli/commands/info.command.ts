import { Command, CommandRunner } from 'nest-commander';
import { AppConfig } from '../../config/app-config';
import { KeyManagement } from '../../kms/key-management';

/** Shows which database, KMS key and chain this terminal would act on, before anything is done. */
@Command({ name: 'info', description: 'Show the database, KMS provider/key and chain this CLI is configured for' })
export class InfoCommand extends CommandRunner {
  constructor(
    private readonly config: AppConfig,
    private readonly kms: KeyManagement,
  ) {
    super();
  }

  async run(): Promise<void> {
    const db = new URL(this.config.databaseUrl);
    db.password = db.password ? '***' : '';
    process.stdout.write(
      [
        `database: ${db.toString()}`,
        `kms: ${this.kms.provider} key=${await this.kms.currentKeyId()}`,
        `chain: ${this.config.chain.rpcUrl}`,
      ].join('\n') + '\n',
    );
  }
}
