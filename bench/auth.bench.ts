/**
 * `npm run bench -- auth`: argon2id hash and verify cost with the production defaults
 * (m = 19 MiB, t = 2, p = 1) and with the cheap test parameters, measured directly
 * (no HTTP): the figure that bounds logins per second per core.
 */
import { hash, verify } from '@node-rs/argon2';
import type { BenchRow, Suite } from './run';

const ARGON2ID = 2;

const suite: Suite = async () => {
  const rows: BenchRow[] = [];
  for (const [label, memoryCost, timeCost] of [
    ['production default', 19_456, 2],
    ['tests (ARGON2_MEMORY_KIB=1024, ARGON2_ITERATIONS=1)', 1024, 1],
  ] as const) {
    const opts = { algorithm: ARGON2ID, memoryCost, timeCost, parallelism: 1 };
    const h = await hash('correct-horse-battery-staple', opts);
    const n = 40;
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await verify(h, 'correct-horse-battery-staple');
    const verifyMs = Number(process.hrtime.bigint() - t0) / 1e6 / n;
    t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await hash('correct-horse-battery-staple', opts);
    const hashMs = Number(process.hrtime.bigint() - t0) / 1e6 / n;
    // Two verifications in parallel, as two concurrent logins on the 2-core machine would run.
    t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: n }, () => verify(h, 'correct-horse-battery-staple')));
    const parallelPerSec = n / (Number(process.hrtime.bigint() - t0) / 1e9);
    rows.push({
      parameters: label,
      'm (KiB)': memoryCost,
      t: timeCost,
      p: 1,
      'verify ms': Number(verifyMs.toFixed(1)),
      'hash ms': Number(hashMs.toFixed(1)),
      'logins/s (serial)': Math.round(1000 / verifyMs),
      'logins/s (concurrent)': Math.round(parallelPerSec),
    });
  }
  return {
    settings: { algorithm: 'argon2id (@node-rs/argon2)' },
    rows,
    notes: ['a login is one verify plus a few small queries; an unknown loginId verifies against a dummy hash, so it costs the same'],
  };
};

export default suite;
