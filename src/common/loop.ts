/**
 * A background loop that never overlaps itself: it runs when woken, or after its poll
 * interval, and at once again when the last run says more work is ready. `stop()` waits
 * for the run in progress.
 *
 * `gatherMs` (off by default) is a batching window for work nobody waits on synchronously
 * (webhook fan-out and sends): a wake-up starts a run no sooner than `gatherMs` after the
 * previous run started, so wake-ups that arrive one by one are served by one run. A run that
 * reports more work ready (a full batch) still goes again at once.
 */
export class Loop {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private running: Promise<void> | undefined;
  private lastStart = 0;
  private again = false;
  private stopped = false;

  constructor(
    private readonly pollMs: number,
    /** Resolves true when more work is ready right now. */
    private readonly run: () => Promise<boolean>,
    private readonly onError: (e: unknown) => void,
    private readonly gatherMs = 0,
  ) {}

  start(): void {
    this.schedule(0);
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(this.gap());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** How long a wake-up waits: what is left of the batching window since the last run started. */
  private gap(): number {
    return Math.max(0, this.lastStart + this.gatherMs - Date.now());
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    // A wake-up never postpones a run already due sooner.
    if (this.timer && this.timerAt <= Date.now() + ms) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = Date.now() + ms;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.again = false;
      this.lastStart = Date.now();
      this.running = this.run()
        .catch((e: unknown) => {
          this.onError(e);
          return false;
        })
        .then((more) => {
          this.running = undefined;
          this.schedule(more ? 0 : this.again ? this.gap() : this.pollMs);
        });
    }, ms);
  }
}

/** Runs `fn` over `items` with at most `limit` at a time; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
