/** Data source for the TypeORM CLI (migration:generate/run/revert). */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/app-config';
import { dataSourceOptions } from './data-source-options';

const env = { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'development' };
export default new DataSource(dataSourceOptions(loadConfig(env).databaseUrl));
