/**
 * The mixed workload: issue, redeem, forced transfer, deposit, withdraw, freeze and
 * unfreeze, each with its own Idempotency-Key, generated from a seed (operation i is a
 * function of seed and i only, whichever worker sends it), and sent like a careful
 * client: retried with the same key until accepted (202/200), through refused
 * connections, 409 IDEMPOTENCY_KEY_IN_USE and the 503s of an outage.
 */
import { mix32, rng } from './profile';
import { sleep, type Answer, type Http, type Phase } from './client';
import type { Fixture, Holder } from './fixture';

type OpKind = 'issue' | 'redeem' | 'forced-transfer' | 'deposit' | 'withdraw' | 'freeze' | 'unfreeze';

export interface Op {
  key: string;
  kind: OpKind;
  body: Record<string, string>;
}

export interface Accepted {
  op: Op;
  txId: string;
  status: number;
  /** The phase when the operation was first accepted. */
  phase: Phase;
  acceptedAt: number;
  attempts: number;
}

const WEIGHTS: Array<[OpKind, number]> = [
  ['issue', 22],
  ['redeem', 14],
  ['forced-transfer', 20],
  ['deposit', 14],
  ['withdraw', 14],
  ['freeze', 8],
  ['unfreeze', 8],
];
const TOTAL = WEIGHTS.reduce((s, [, w]) => s + w, 0);

/** Operation `i` of the workload of `seed`: the same seed gives the same operations. */
export function makeOp(seed: number, i: number, fx: Fixture, tag: string): Op {
  const r = rng(mix32(seed, i));
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const amount = String(1 + Math.floor(r() * 99));
  let roll = r() * TOTAL;
  let kind: OpKind = 'issue';
  for (const [k, w] of WEIGHTS) {
    if ((roll -= w) < 0) {
      kind = k;
      break;
    }
  }
  // The frozen user is only ever debited (agent debits ignore a freeze), never credited.
  const debitable: Holder[] = [...fx.holders, fx.frozen];
  const key = `${tag}-${seed}-${i}`;
  switch (kind) {
    case 'issue':
    case 'withdraw':
      return { key, kind, body: { userId: pick(fx.holders).id, amount } };
    case 'redeem':
    case 'deposit':
      return { key, kind, body: { userId: pick(debitable).id, amount } };
    case 'forced-transfer': {
      const from = pick(debitable);
      const to = pick(fx.holders.filter((h) => h.id !== from.id));
      return { key, kind, body: { fromUserId: from.id, toUserId: to.id, amount, reason: 'reliability' } };
    }
    case 'freeze':
    case 'unfreeze':
      return { key, kind, body: { userId: fx.frozen.id } };
  }
}

class Refused extends Error {
  constructor(
    readonly op: Op,
    readonly answer: Answer,
  ) {
    super(`${op.kind} ${op.key} refused: ${answer.status} ${answer.text.slice(0, 300)}`);
  }
}

/**
 * Sends `op` until it is accepted; answers that a client should retry (no answer, 409
 * IDEMPOTENCY_KEY_IN_USE, any 5xx) are retried with the same key until `deadline`.
 * Any other refusal throws Refused: the workload never asks for the impossible.
 */
export async function submit(http: Http, fx: Fixture, op: Op, deadline: number, onAnswer?: (a: Answer) => void): Promise<Accepted> {
  let attempts = 0;
  for (;;) {
    attempts++;
    const phase = http.rec.phase;
    const a = await http.call('POST', `/v1/tokens/${fx.token.id}/${op.kind}`, {
      token: fx.operator.token,
      body: op.body,
      headers: { 'idempotency-key': op.key },
    });
    onAnswer?.(a);
    if (a.status === 202 || a.status === 200)
      return { op, txId: a.body.id as string, status: a.status, phase, acceptedAt: Date.now(), attempts };
    const retry = a.status === 0 || a.status >= 500 || (a.status === 409 && a.body?.code === 'IDEMPOTENCY_KEY_IN_USE');
    if (!retry) throw new Refused(op, a);
    if (Date.now() > deadline)
      throw new Error(`${op.kind} ${op.key} not accepted before the deadline; last answer ${a.status} ${a.error ?? a.text.slice(0, 200)}`);
    await sleep(a.status === 409 ? 500 : 250);
  }
}

/** A closed-loop load of `concurrency` clients, each sending the next operation once its last one was accepted. */
export class Load {
  readonly accepted: Accepted[] = [];
  readonly errors: Error[] = [];
  private next = 0;
  private stopping = false;
  private paused = false;
  private workers: Array<Promise<void>> = [];

  constructor(
    private readonly http: Http,
    private readonly fx: Fixture,
    readonly seed: number,
    private readonly tag: string,
    private readonly concurrency: number,
    /** Upper bound of the rate, over all clients (operations per second). */
    private readonly opsPerSecond: number,
    /** How long one operation may take to be accepted, outages included. */
    private readonly acceptWithinMs = 180_000,
  ) {}

  get sent(): number {
    return this.next;
  }

  start(): void {
    for (let w = 0; w < this.concurrency; w++) this.workers.push(this.worker());
  }

  /** Stops taking new operations (those being sent go on until accepted). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** Waits until some operation is accepted in the current phase (so a fault really happens under load). */
  async acceptedIn(phase: Phase, atLeast: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.accepted.filter((a) => a.phase === phase).length < atLeast) {
      if (Date.now() > deadline || this.errors.length) return false;
      await sleep(50);
    }
    return true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers);
  }

  private async worker(): Promise<void> {
    const interval = (this.concurrency * 1000) / this.opsPerSecond;
    while (!this.stopping) {
      if (this.paused) {
        await sleep(50);
        continue;
      }
      const t0 = Date.now();
      const op = makeOp(this.seed, this.next++, this.fx, this.tag);
      try {
        this.accepted.push(await submit(this.http, this.fx, op, Date.now() + this.acceptWithinMs));
      } catch (e) {
        this.errors.push(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      // Pacing, not a condition: a client that sends at a steady rate.
      const wait = interval - (Date.now() - t0);
      if (wait > 0 && !this.stopping) await sleep(wait);
    }
  }
}
