/**
 * Writes openapi.json from the controllers' metadata without connecting to anything
 * or listening (Nest preview mode). `--check` fails when the committed file differs.
 */
import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module';
import { loadOfflineConfig } from '../config/app-config';
import { configPreset } from '../config/config.module';
import { buildOpenApiDocument } from '../configure-app';

async function main(): Promise<void> {
  configPreset.value = loadOfflineConfig();
  const app = await NestFactory.create(AppModule, { preview: true, logger: false, abortOnError: false });
  const doc = buildOpenApiDocument(app);
  const text = JSON.stringify(doc, null, 2) + '\n';
  const file = join(process.cwd(), 'openapi.json');
  if (process.argv.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(file, 'utf8');
    } catch {
      /* missing counts as a diff */
    }
    if (committed !== text) {
      process.stderr.write('openapi.json is out of date: run `npm run openapi` and commit the result\n');
      process.exit(1);
    }
    process.stdout.write('openapi.json is up to date\n');
    return;
  }
  writeFileSync(file, text);
  process.stdout.write(`wrote openapi.json (${Object.keys(doc.paths).length} paths)\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`openapi: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
