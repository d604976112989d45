/** Data source for the TypeORM CLI (migration:run/revert); dev finds the embedded database via DATA_DIR/dev.env. */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig, loadDevEnvFile } from '../config/app-config';
import { dataSourceOptions } from './data-source-options';

loadDevEnvFile();
// No request deadlines here: a migration may take minutes on a large table.
export default new DataSource(dataSourceOptions(loadConfig().databaseUrl, { extra: { max: 2, application_name: 'kagi-migrations' } }));
