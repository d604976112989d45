/** Bootstrap only: configuration first (one line on error), then the app. */
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { firstLine } from './common/logging';
import { ConfigError, loadConfig, type AppConfig } from './config/app-config';
import { configureApp } from './configure-app';

async function bootstrap(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const app = await NestFactory.create<NestExpressApplication>(AppModule, {
    bufferLogs: true,
    bodyParser: false,
    httpsOptions: config.tls ? { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) } : undefined,
  });
  configureApp(app);
  await app.listen(config.port, config.host);
  const scheme = config.tls ? 'https' : 'http';
  new Logger('Main').log(`kagi listening on ${scheme}://${config.host}:${config.port} (NODE_ENV=${config.nodeEnv})`);
}

bootstrap().catch((e: unknown) => {
  process.stderr.write(`kagi failed to start: ${firstLine(e)}\n`);
  process.exit(1);
});
