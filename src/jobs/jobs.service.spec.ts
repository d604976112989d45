/** Registration rules and the enqueue-only mode; queue behaviour is tested on PostgreSQL in test/e2e/jobs.e2e-spec.ts. */
import { describe, expect, it } from 'vitest';
import { Notifier } from '../database/notifier';
import { Jobs } from './jobs.service';
import type { JobsRepository } from './jobs.repository';

/** A repository that throws on any call nobody set up. */
const untouchable = new Proxy({} as JobsRepository, {
  get: (_t, prop) => () => {
    throw new Error(`unexpected repository call: ${String(prop)}`);
  },
});
const offlineNotifier = () => new Notifier({ databaseUrl: 'postgres://nobody@127.0.0.1:1/none', offline: true });

describe('Jobs', () => {
  it('starts no worker when enqueue-only (the CLI) and never touches the database at bootstrap', async () => {
    const jobs = new Jobs(untouchable, offlineNotifier(), { offline: false }, { worker: false });
    await jobs.onApplicationBootstrap();
    expect(jobs.worker.id).toBeUndefined();
    await jobs.onModuleDestroy();
  });

  it('refuses a bad type name, a second handler for one type and a bad schedule', () => {
    const jobs = new Jobs(untouchable, offlineNotifier(), { offline: true });
    const noop = () => Promise.resolve();
    expect(() => jobs.register('Bad Type', noop)).toThrow('invalid job type');
    jobs.register('mail.send', noop);
    expect(() => jobs.register('mail.send', noop)).toThrow('registered twice');
    expect(() => jobs.register('custody.reconcile', noop, { schedule: { cron: 'not cron' } })).toThrow();
  });
});
