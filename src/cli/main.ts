/** `npm run cli -- <command>`: the secure-room CLI (see README). */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CommandFactory } from 'nest-commander';
import { ConfigError, loadConfig, loadDevEnvFile, loadOfflineConfig } from '../config/app-config';
import { configPreset } from '../config/config.module';
import { CliModule } from './cli.module';
import { secureRoomConfig, SecureRoomModule } from './secure-room.module';

/** The soft and hard RLIMIT_CORE of this process, from /proc/self/limits ('unlimited' → Infinity). */
export function coreLimit(): [number, number] | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max core file size'));
    const [soft, hard] = (line?.slice('Max core file size'.length).trim().split(/\s+/) ?? []).map((v) =>
      v === 'unlimited' ? Infinity : Number(v),
    );
    return soft === undefined || hard === undefined ? undefined : [soft, hard];
  } catch {
    return undefined;
  }
}

/**
 * No core dump may hold a key: Node has no setrlimit, so the CLI lowers its own
 * RLIMIT_CORE to 0 with util-linux `prlimit` (allowed for one's own process without
 * privileges) unless `ulimit -c 0` (the npm script) already did, and refuses to issue
 * a key when the limit is still not 0.
 */
function noCoreDumps(): void {
  if (coreLimit()?.[0] === 0 && coreLimit()?.[1] === 0) return;
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), '--core=0:0'], { stdio: 'ignore' });
  } catch {
    /* checked below */
  }
  const limit = coreLimit();
  if (!limit || limit[0] !== 0)
    throw new ConfigError('RLIMIT_CORE', 'is not 0 and prlimit could not lower it: run under `ulimit -c 0` (npm run cli does)');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const wantsHelp = args.length === 0 || args.includes('--help') || args.includes('-h') || args[0] === 'help';
  const secureRoom = args[0] === 'wallet:issue' && !wantsHelp;
  try {
    loadDevEnvFile();
    if (secureRoom) noCoreDumps();
    const config = wantsHelp ? loadOfflineConfig() : loadConfig();
    configPreset.value = secureRoom ? secureRoomConfig(config) : config;
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
