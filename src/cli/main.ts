/** `npm run cli -- <command>`: the secure-room CLI (see README). */
// First: lowers RLIMIT_CORE to 0 for wallet:issue before anything else is loaded.
import './no-core-dumps';
import 'reflect-metadata';
import { CommandFactory } from 'nest-commander';
import { ConfigError, loadConfig, loadDevEnvFile, loadOfflineConfig } from '../config/app-config';
import { configPreset } from '../config/config.module';
import { CliModule } from './cli.module';
import { SecureRoomModule } from './secure-room.module';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const wantsHelp = args.length === 0 || args.includes('--help') || args.includes('-h') || args[0] === 'help';
  const secureRoom = args[0] === 'wallet:issue' && !wantsHelp;
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
  await CommandFactory.run(secureRoom ? SecureRoomModule : CliModule, {
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
  // The command is done and the app closed: leave now, with nothing of the key lingering
  // in a process that waits for stray timers or sockets.
  process.exit(process.exitCode ?? 0);
}

void main();
