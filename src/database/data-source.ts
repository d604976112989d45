/** Data source for the TypeORM CLI (migration:run/revert); dev finds the embedded database via DATA_DIR/dev.env. */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig, loadDevEnvFile } from '../config/app-config';
import { dataSourceOptions } from './data-source-options';

loadDevEnvFile();
export default new DataSource(dataSourceOptions(loadConfig().databaseUrl));
