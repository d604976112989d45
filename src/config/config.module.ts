import { Global, Module } from '@nestjs/common';
import { AppConfig, loadConfig } from './app-config';

/** Entry points that already loaded the configuration (the CLI) put it here. */
export const configPreset: { value?: AppConfig } = {};

@Global()
@Module({
  providers: [{ provide: AppConfig, useFactory: () => configPreset.value ?? loadConfig() }],
  exports: [AppConfig],
})
export class ConfigModule {}
