/**
 * PostgreSQL LISTEN/NOTIFY: the wake-up channel between instances (jobs enqueued,
 * a pipeline round finished, a `Prefer: wait` request to wake).
 *
 * - `notify(em, channel, payload)` runs `pg_notify` inside the caller's transaction, so
 *   the notification is delivered at commit and never for a rolled-back change.
 *   PostgreSQL folds identical (channel, payload) notifications of one transaction into
 *   one, and every notifying commit takes a global lock: send one per round or batch per
 *   channel, never one per row.
 * - `listen(channel, cb)` shares ONE dedicated `pg` connection per process, outside the
 *   TypeORM pool (a pooled connection goes back to the pool and would drop its LISTENs).
 *   It must reach PostgreSQL directly: a transaction-pooling PgBouncer does not carry
 *   LISTEN. The connection reconnects with backoff (250 ms … 10 s) and re-LISTENs every
 *   channel; notifications sent while it was down are lost, so after each reconnect every
 *   callback is called once with `undefined` so waiters re-check their condition.
 * - Never carries secrets: payloads are ids or nothing (they show in pg_stat_activity).
 */
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Client } from 'pg';
import type { EntityManager } from 'typeorm';
import { firstLine } from '../common/logging';
import { AppConfig } from '../config/app-config';

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;
const MAX_PAYLOAD = 1000;
const BACKOFF_MS = [250, 500, 1000, 2000, 5000, 10_000];

export type NotifyCallback = (payload: string | undefined) => void;

export function assertChannel(channel: string): void {
  if (!CHANNEL.test(channel)) throw new Error(`invalid notify channel name: ${channel.slice(0, 70)}`);
}

/** Sends `payload` on `channel` when `em`'s transaction commits (at once outside one). */
export async function notify(em: EntityManager, channel: string, payload = ''): Promise<void> {
  assertChannel(channel);
  if (payload.length > MAX_PAYLOAD) throw new Error('notify payload too long');
  await em.query('SELECT pg_notify($1, $2)', [channel, payload]);
}

@Injectable()
export class Notifier implements OnModuleDestroy {
  private readonly logger = new Logger('Notifier');
  private readonly listeners = new Map<string, Set<NotifyCallback>>();
  private client: Client | undefined;
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** The tail of the statements sent on the listening connection. */
  private statements: Promise<void> = Promise.resolve();
  private closed = false;
  /** Bumped on every (re)connect; tests and metrics can watch it. */
  connects = 0;

  constructor(@Inject(AppConfig) private readonly config: Pick<AppConfig, 'databaseUrl' | 'offline'>) {}

  notify(em: EntityManager, channel: string, payload = ''): Promise<void> {
    return notify(em, channel, payload);
  }

  /**
   * Calls `cb` for every notification on `channel` (payload) and once after each
   * reconnect (`undefined`). Returns the unsubscribe function. The LISTEN is in place
   * when the returned `ready` promise resolves.
   */
  listen(channel: string, cb: NotifyCallback): { ready: Promise<void>; close: () => void } {
    assertChannel(channel);
    if (this.config.offline || this.closed) return { ready: Promise.resolve(), close: () => undefined };
    let set = this.listeners.get(channel);
    const fresh = !set;
    if (!set) this.listeners.set(channel, (set = new Set()));
    set.add(cb);
    const ready = this.ensureConnected().then(() => {
      if (fresh && this.client) return this.serially(this.client, `LISTEN ${channel}`);
    });
    // A failed first connect is retried in the background; callers waiting on `ready` still learn of it.
    ready.catch(() => undefined);
    return {
      ready,
      // The LISTEN stays: channels are few, and a waiter per request must not cost a round trip each.
      close: () => void this.listeners.get(channel)?.delete(cb),
    };
  }

  /**
   * Resolves with `check()`'s first defined result, re-checking on each notification
   * on `channel` (and after reconnects), or `undefined` after `timeoutMs`. Subscribes
   * before the first check, so a commit between check and wait is never missed.
   */
  async waitFor<T>(channel: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
    let wake: () => void = () => undefined;
    let pending: boolean;
    const sub = this.listen(channel, () => {
      pending = true;
      wake();
    });
    const deadline = Date.now() + timeoutMs;
    try {
      await Promise.race([sub.ready, new Promise((r) => setTimeout(r, timeoutMs))]).catch(() => undefined);
      for (;;) {
        pending = false;
        const found = await check();
        if (found !== undefined) return found;
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        if (pending) continue;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = () => undefined;
      }
    } finally {
      sub.close();
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.connecting?.catch(() => undefined);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  /** One statement at a time on the listening connection (pg queues overlapping ones, deprecated since pg 8.16). */
  private serially(client: Client, sql: string): Promise<void> {
    const next = this.statements.then(() => client.query(sql)).then(() => undefined);
    this.statements = next.catch(() => undefined);
    return next;
  }

  private ensureConnected(): Promise<void> {
    if (this.client) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.config.databaseUrl, application_name: 'kagi-notifier', keepAlive: true });
    client.on('notification', (n) => this.dispatch(n.channel, n.payload ?? ''));
    client.on('error', (e) => this.lost(client, e));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      // A fresh connection: nothing queued on a lost one may hold its statements back.
      this.statements = Promise.resolve();
      for (const channel of this.listeners.keys()) await this.serially(client, `LISTEN ${channel}`);
    } catch (e) {
      await client.end().catch(() => undefined);
      this.scheduleReconnect(e);
      throw e;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    const reconnect = this.connects++ > 0 || this.failures > 0;
    this.failures = 0;
    // Anything sent while no connection listened is lost: let every waiter re-check once.
    if (reconnect) for (const channel of this.listeners.keys()) this.dispatch(channel, undefined);
  }

  private lost(client: Client, e: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('notification');
    client.end().catch(() => undefined);
    if (!this.closed) this.scheduleReconnect(e);
  }

  private scheduleReconnect(e: unknown): void {
    if (this.closed || this.retryTimer) return;
    const delay = BACKOFF_MS[Math.min(this.failures++, BACKOFF_MS.length - 1)] ?? 10_000;
    this.logger.warn(`listen connection lost (${firstLine(e)}); reconnecting in ${delay} ms`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.listeners.size || this.closed) return;
      this.ensureConnected().catch(() => undefined);
    }, delay);
  }

  private dispatch(channel: string, payload: string | undefined): void {
    for (const cb of [...(this.listeners.get(channel) ?? [])]) {
      try {
        cb(payload);
      } catch (e) {
        this.logger.warn(`listener on ${channel} threw: ${firstLine(e)}`);
      }
    }
  }
}
