/** `npm run cli -- <command>`: the secure-room CLI (see README). */
import 'reflect-metadata';
import { CommandFactory } from 'nest-commander';
import { ConfigError, loadConfig, loadDevEnvFile, loadOfflineConfig } from '../config/app-config';
import { configPreset } from '../config/config.module';
import { CliModule } from './cli.module';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const wantsHelp = args.length === 0 || args.includes('--help') || args.includes('-h') || args[0] === 'help';
  try {
    loadDevEnvFile();
    configPreset.value = wantsHelp ? loadOfflineConfig() : loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const fail = (err: Error) => {
    process.stderr.write(`${err.message.split('\n')[0]}\n`);
    process.exit(1);
  };
  await CommandFactory.run(CliModule, {
    cliName: 'npm run cli --',
    logger: ['error', 'warn'],
    errorHandler: (err) => {
      // commander reports --help and --version as errors with exit code 0.
      const code = (err as { exitCode?: number }).exitCode;
      if (code === 0) process.exit(0);
      fail(err);
    },
    serviceErrorHandler: fail,
  });
}

void main();
