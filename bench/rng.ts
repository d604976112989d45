/**
 * A seeded PRNG (mulberry32, uniform in [0, 1)), shared by the soak and the reliability
 * suite, so a run replays from its logged seed. Seven lines; no dependency needed.
 */
export type Rng = () => number;

export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
