import { afterEach, describe, expect, it } from 'vitest';
import { Loop } from './loop';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Loop', () => {
  const loops: Loop[] = [];
  afterEach(async () => {
    await Promise.all(loops.splice(0).map((l) => l.stop()));
  });
  const loop = (gatherMs: number, more: () => boolean = () => false) => {
    const starts: number[] = [];
    const l = new Loop(
      10_000,
      async () => {
        starts.push(Date.now());
        return more();
      },
      () => undefined,
      gatherMs,
    );
    loops.push(l);
    return { l, starts };
  };

  it('without a window, every wake-up after a run starts the next run at once', async () => {
    const { l, starts } = loop(0);
    l.start();
    await sleep(20);
    for (let i = 0; i < 5; i++) {
      l.wake();
      await sleep(10);
    }
    expect(starts.length).toBe(6);
  });

  it('with a window, wake-ups that arrive one by one are served by one run per window', async () => {
    const { l, starts } = loop(200);
    l.start();
    await sleep(20);
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) {
      l.wake();
      await sleep(10);
    }
    // The first run started ~20 ms before: the wake-ups wait for its window to end, then one run serves them all.
    expect(starts.length).toBe(1);
    await sleep(250);
    expect(starts.length).toBe(2);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(195);
    expect(starts[1]! - t0).toBeLessThan(250);
  });

  it('a wake-up after the window has passed runs at once', async () => {
    const { l, starts } = loop(50);
    l.start();
    await sleep(80);
    const t0 = Date.now();
    l.wake();
    await sleep(20);
    expect(starts.length).toBe(2);
    expect(starts[1]! - t0).toBeLessThan(20);
  });

  it('a run that reports more work goes again at once, window or not', async () => {
    let n = 0;
    const { l, starts } = loop(1_000, () => ++n < 4);
    l.start();
    await sleep(100);
    expect(starts.length).toBe(4);
  });
});
