/** Every bench suite, by name. Add a line per suite. */
import { registerSuite } from './run';

export function loadSuites(): void {
  registerSuite('kms', async () => (await import('./kms.bench')).default);
  registerSuite('gas', async () => (await import('./gas.bench')).default);
  registerSuite('auth', async () => (await import('./auth.bench')).default);
  registerSuite('pipeline', async () => (await import('./pipeline.bench')).default);
  registerSuite('jobs', async () => (await import('./jobs.bench')).default);
  registerSuite('batches', async () => (await import('./batches.bench')).default);
  registerSuite('scale', async () => (await import('./scale.bench')).default);
}
