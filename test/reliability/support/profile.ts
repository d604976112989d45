/**
 * How hard the reliability suite pushes. `KAGI_RELIABILITY=quick` shrinks every file so
 * the whole project stays within about five minutes on the 2-core machine; the default
 * (full) profile runs the numbers (20 kill -9 runs, longer loads and outages).
 * The seed of every random choice comes from KAGI_RELIABILITY_SEED or the clock, and is
 * printed, so a failing run can be replayed with the same seed.
 */
type ProfileName = 'quick' | 'full';

export interface Profile {
  name: ProfileName;
  /** Clients of the load generator, and the rate they keep between them (operations accepted per second at most). */
  concurrency: number;
  opsPerSecond: number;
  /** How long kagi may take to show the reason on every operation held up by an outage. */
  reasonWithinMs: number;
  /** Load before the fault, during it, and after recovery (ms). */
  baselineMs: number;
  outageMs: number;
  recoveryMs: number;
  /** KMS: also freeze moto (SIGSTOP) so calls hang instead of being refused. */
  kmsHangMs: number;
  /** Hung dependencies: how long the chain node, then PostgreSQL, stay SIGSTOPped (ms). */
  hungMs: number;
  /** PostgreSQL: outages, one restart each (ms the server stays down). */
  postgresOutagesMs: number[];
  /** kill -9: runs, operations per run, and the window in which the kill falls (ms after the load starts). */
  killRuns: number;
  killOpsPerRun: number;
  killWindowMs: number;
}

const QUICK: Profile = {
  name: 'quick',
  concurrency: 4,
  opsPerSecond: 15,
  reasonWithinMs: 20_000,
  baselineMs: 2_000,
  outageMs: 5_000,
  recoveryMs: 2_000,
  kmsHangMs: 0,
  hungMs: 12_000,
  postgresOutagesMs: [5_000],
  killRuns: 5,
  killOpsPerRun: 16,
  killWindowMs: 1_000,
};

const FULL: Profile = {
  name: 'full',
  concurrency: 8,
  opsPerSecond: 30,
  reasonWithinMs: 30_000,
  baselineMs: 5_000,
  outageMs: 15_000,
  recoveryMs: 5_000,
  kmsHangMs: 20_000,
  hungMs: 25_000,
  postgresOutagesMs: [4_000, 15_000],
  killRuns: 20,
  killOpsPerRun: 30,
  killWindowMs: 1_500,
};

export function profile(): Profile {
  const v = process.env.KAGI_RELIABILITY;
  if (v === undefined || v === '' || v === 'full') return FULL;
  if (v === 'quick') return QUICK;
  throw new Error(`KAGI_RELIABILITY must be "quick" or "full", not ${JSON.stringify(v)}`);
}

/** The run's base seed: KAGI_RELIABILITY_SEED, else the clock. Printed by every file. */
export function baseSeed(): number {
  const v = process.env.KAGI_RELIABILITY_SEED;
  if (v !== undefined && v !== '') {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error('KAGI_RELIABILITY_SEED must be a non-negative integer');
    return n;
  }
  return Date.now() % 2_147_483_647;
}

/** The seeded PRNG shared with the soak. */
export { rng } from '../../../bench/rng';

/** A 32-bit mix (murmur3's finaliser) of a few integers: unrelated seeds for related inputs. */
export function mix32(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}
