export * from './app-config';
export { ConfigModule } from './config.module';
