/** `npm run governance`: the governance signer's own process (see governance-process.ts). */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { firstLine } from '../common/logging';
import { ConfigError, loadConfig, loadDevEnvFile, type AppConfig } from '../config/app-config';
import { configPreset } from '../config/config.module';
import { GovernanceProcess, GovernanceProcessModule } from './governance-process';

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    loadDevEnvFile();
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  configPreset.value = config;
  const app = await NestFactory.createApplicationContext(GovernanceProcessModule.for(config), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  await app.get(GovernanceProcess).start();
}

main().catch((e: unknown) => {
  process.stderr.write(`kagi governance failed to start: ${firstLine(e)}\n`);
  process.exit(1);
});
