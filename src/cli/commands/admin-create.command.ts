import { Command, CommandRunner, Option } from 'nest-commander';
import { AuthService } from '../../auth/auth.service';
import { ask } from '../prompt';

interface Options {
  loginId?: string;
  name?: string;
}

/** Creates a platform admin. The password is prompted (no echo) or read from stdin, never taken from argv. */
@Command({ name: 'admin:create', description: 'Create a platform admin (password prompted, or read from stdin)' })
export class AdminCreateCommand extends CommandRunner {
  constructor(private readonly auth: AuthService) {
    super();
  }

  @Option({ flags: '--login-id <loginId>', description: 'login id of the new admin' })
  parseLoginId(v: string): string {
    return v;
  }

  @Option({ flags: '--name <name>', description: 'display name' })
  parseName(v: string): string {
    return v;
  }

  async run(_args: string[], options: Options): Promise<void> {
    const loginId = options.loginId ?? (await ask('login id: '));
    const password = await ask('password: ', { secret: true });
    const { id } = await this.auth.createAdmin(loginId, password, options.name ?? loginId, { type: 'cli' });
    process.stdout.write(`created admin ${loginId} (${id})\n`);
  }
}
