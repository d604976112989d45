import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';
import { SweepLastSequencer } from './test/support/sequencer';

// Vitest runs the TypeScript sources through SWC so that Nest's decorator metadata
// (emitDecoratorMetadata) exists in tests exactly as in the built app.
const plugins = [swc.vite({ module: { type: 'es6' } })];

export default defineConfig({
  plugins,
  test: {
    env: { TZ: 'UTC' },
    // The secret sweep (test/e2e/secret-sweep.e2e-spec.ts) runs after every other e2e file.
    sequence: { sequencer: SweepLastSequencer },
    projects: [
      {
        plugins,
        test: {
          name: 'unit',
          include: ['src/**/*.spec.ts', 'test/unit/**/*.spec.ts'],
          environment: 'node',
        },
      },
      {
        plugins,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e-spec.ts'],
          environment: 'node',
          globalSetup: ['test/support/global-setup.ts'],
          // Records every HTTP answer and marks file start/end for the secret sweep.
          setupFiles: ['test/support/record-http.ts'],
          // One PostgreSQL, one KMS API and one Anvil per run; files run one after another
          // in one worker (still isolated per file) so a 2-core machine tests behaviour, not contention.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        plugins,
        test: {
          // `npm run test:reliability`: faults under load (services stopped, restarted and
          // killed), each file starting the processes it breaks. Not part of `npm test`;
          // `.ci/run` runs its quick profile (KAGI_RELIABILITY=quick).
          name: 'reliability',
          include: ['test/reliability/**/*.rel-spec.ts'],
          environment: 'node',
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 900_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
