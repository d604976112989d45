/**
 * A counting semaphore that refuses instead of queueing without bound: `tryRun` runs the
 * work when a permit is free or one frees within `waitMs`, otherwise throws. Caps memory-
 * heavy work (argon2id) reachable from public routes. Hand-written: a dozen lines, and the
 * refuse-after-a-short-wait policy is not what the npm semaphores offer.
 */
export class Semaphore {
  private inUse = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly permits: number) {}

  get available(): number {
    return this.permits - this.inUse;
  }

  /** Runs `work` under a permit; `onRefuse` is thrown when none frees within `waitMs`. */
  async tryRun<T>(work: () => Promise<T>, waitMs: number, onRefuse: () => Error): Promise<T> {
    if (this.inUse >= this.permits) {
      const got = await new Promise<boolean>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve(false);
        }, waitMs);
        this.waiters.push(wake);
      });
      if (!got) throw onRefuse();
    } else {
      this.inUse++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiters.shift();
      // A waiter inherits the permit; otherwise it is returned.
      if (next) next();
      else this.inUse--;
    }
  }
}
