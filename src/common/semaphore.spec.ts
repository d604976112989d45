import { describe, expect, it } from 'vitest';
import { Semaphore } from './semaphore';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Semaphore', () => {
  it('runs at most `permits` at once and refuses beyond the wait', async () => {
    const s = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const work = async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(50);
      running--;
      return 1;
    };
    const results = await Promise.allSettled([1, 2, 3].map(() => s.tryRun(work, 5, () => new Error('busy'))));
    expect(peak).toBe(2);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(s.available).toBe(2);
  });

  it('hands a freed permit to a waiter', async () => {
    const s = new Semaphore(1);
    const order: number[] = [];
    await Promise.all([
      s.tryRun(
        async () => {
          await sleep(20);
          order.push(1);
        },
        1000,
        () => new Error('busy'),
      ),
      s.tryRun(
        async () => {
          order.push(2);
        },
        1000,
        () => new Error('busy'),
      ),
    ]);
    expect(order).toEqual([1, 2]);
    expect(s.available).toBe(1);
  });
});
