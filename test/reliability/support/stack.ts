/**
 * The outside components one reliability file breaks, each its own: embedded
 * PostgreSQL (a temp data dir, restartable on the same dir and port), moto's KMS API
 * behind a TCP proxy, and Anvil with a state file (restartable with the chain kept).
 *
 * Why a proxy in front of moto: moto keeps its keys in memory only, so a restarted moto
 * would have lost the master key and every wrapped data key would be garbage, which is
 * a different fault (key loss) from the one under test (KMS unreachable, then back).
 * Closing the proxy makes the KMS endpoint refuse connections exactly like a stopped
 * server; `hang()` stops moto itself (SIGSTOP), so connections are accepted and never
 * answered, like a KMS that stopped responding.
 */
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import {
  findMoto,
  freePort,
  provisionMoto,
  startAnvil,
  startMoto,
  startPostgres,
  type PostgresHandle,
  type StartedProcess,
} from '../../../dev/processes';

const CHAIN_ID = 31337;
const PG_PASSWORD = 'kagi-reliability';
const log = (s: string) => process.stderr.write(`[reliability] ${s}\n`);

/** Children still running when the test process exits are killed (a failed afterAll must not leave servers behind). */
const live = new Set<StartedProcess['child']>();
process.once('exit', () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
function track(p: StartedProcess): StartedProcess {
  live.add(p.child);
  p.child.once('exit', () => live.delete(p.child));
  return p;
}

interface Proc {
  pid: number;
  ppid: number;
  state: string;
  cmd: string;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid …; comm may hold spaces and parentheses: split after the last ')'.
    const close = stat.lastIndexOf(')');
    const [state, ppid] = stat.slice(close + 2).split(' ');
    out.push({ pid: Number(d), ppid: Number(ppid), state: state ?? '?', cmd: stat.slice(stat.indexOf('(') + 1, close) });
  }
  return out;
}

/** `root` and every process it forked, from /proc (PostgreSQL: the postmaster, its backends and auxiliaries). */
function processTree(root: number): Proc[] {
  const all = processes();
  const tree = all.filter((p) => p.pid === root);
  for (let i = 0; i < tree.length; i++) tree.push(...all.filter((p) => p.ppid === tree[i]!.pid));
  return tree;
}

/**
 * SIGSTOP (or SIGCONT) to a server and every process it forked. Not by process group:
 * PostgreSQL's backends each start their own (setsid), so only the postmaster is in its group.
 * The root stops first (it forks no backend after that), then its children; each is checked
 * stopped (running again) in /proc. Stopped, the kernel still accepts connections and buffers
 * what is sent; nothing answers and nothing is refused, which is what a hung dependency looks
 * like from outside. Returns the processes signalled.
 */
async function signalTree(child: StartedProcess['child'], sig: 'SIGSTOP' | 'SIGCONT'): Promise<Array<{ pid: number; cmd: string }>> {
  const root = child.pid;
  if (root === undefined) throw new Error('no process to signal');
  const stopping = sig === 'SIGSTOP';
  const want = (s: string) => (stopping ? s === 'T' : s !== 'T');
  const settled = async (pids: number[]) => {
    for (let i = 0; ; i++) {
      const now = processTree(root).filter((p) => pids.includes(p.pid));
      if (now.every((p) => want(p.state))) return;
      if (i >= 200) throw new Error(`${sig} did not take: ${JSON.stringify(now)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const kill = (pid: number) => {
    try {
      process.kill(pid, sig);
    } catch {
      /* exited meanwhile */
    }
  };
  if (stopping) {
    kill(root);
    await settled([root]);
  }
  const tree = processTree(root);
  for (const p of tree) if (p.pid !== root) kill(p.pid);
  await settled(tree.map((p) => p.pid).filter((p) => p !== root));
  if (!stopping) {
    kill(root);
    await settled([root]);
  }
  return tree.map(({ pid, cmd }) => ({ pid, cmd }));
}

class Postgres {
  private handle: PostgresHandle | undefined;
  private hung = false;
  readonly databaseUrl: string;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.databaseUrl = `postgres://postgres:${PG_PASSWORD}@127.0.0.1:${port}/kagi`;
  }

  static async create(): Promise<Postgres> {
    // /tmp is reachable by user `postgres` (embedded PostgreSQL runs as that user under root).
    const pg = new Postgres(mkdtempSync(join(tmpdir(), 'kagi-rel-pg-')), await freePort());
    await pg.start();
    const admin = new Client({ connectionString: `postgres://postgres:${PG_PASSWORD}@127.0.0.1:${pg.port}/postgres` });
    await admin.connect();
    await admin.query('CREATE DATABASE kagi');
    await admin.end();
    return pg;
  }

  get running(): boolean {
    return this.handle !== undefined;
  }

  /** Starts the server on the same data dir and port (first call: initdb). */
  async start(): Promise<void> {
    if (this.handle) return;
    this.handle = await startPostgres({ dir: this.dir, port: this.port, password: PG_PASSWORD });
    track(this.handle);
  }

  /** Fast shutdown (SIGINT): clients are disconnected, a checkpoint is written. */
  async stop(): Promise<void> {
    if (this.hung) await this.resume();
    const h = this.handle;
    this.handle = undefined;
    await h?.stop();
  }

  /** The postmaster and every backend stop (SIGSTOP): connections hang, nothing is refused. Returns the stopped processes. */
  async hang(): Promise<Array<{ pid: number; cmd: string }>> {
    if (!this.handle) throw new Error('PostgreSQL is not running');
    this.hung = true;
    return signalTree(this.handle.child, 'SIGSTOP');
  }

  async resume(): Promise<void> {
    if (!this.handle || !this.hung) return;
    await signalTree(this.handle.child, 'SIGCONT');
    this.hung = false;
  }

  /** For checks no API exposes (say which in a comment where it is used). */
  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const c = new Client({ connectionString: this.databaseUrl });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as T[];
    } finally {
      await c.end();
    }
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

class Kms {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private hung = false;

  private constructor(
    private readonly moto: StartedProcess,
    private readonly motoPort: number,
    readonly port: number,
    readonly keyId: string,
    readonly region: string,
  ) {}

  /** The endpoint kagi is given (the proxy). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async create(root: string): Promise<Kms> {
    const bin = findMoto(root) ?? provisionMoto(root, log);
    if (!bin) throw new Error('reliability tests need moto_server: pip install "moto[server]==5.2.1"');
    const motoPort = await freePort();
    const moto = track(await startMoto(bin, motoPort));
    const region = 'us-east-1';
    const kms = new KMSClient({
      endpoint: `http://127.0.0.1:${motoPort}`,
      region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const key = await kms.send(
      new CreateKeyCommand({ Description: 'kagi reliability master key', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' }),
    );
    const keyId = key.KeyMetadata?.Arn;
    if (!keyId) throw new Error('KMS CreateKey returned no key ARN');
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/kagi-reliability', TargetKeyId: key.KeyMetadata?.KeyId }));
    kms.destroy();
    const k = new Kms(moto, motoPort, await freePort(), keyId, region);
    await k.up();
    return k;
  }

  get isUp(): boolean {
    return this.server !== undefined && !this.hung;
  }

  /** The endpoint accepts connections again (proxy listening on the same port). */
  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect(this.motoPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(this.port, '127.0.0.1', () => res());
    });
    this.server = server;
  }

  /** The endpoint refuses connections; open connections are cut. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((res) => server.close(() => res()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** moto stops answering (SIGSTOP): connections are accepted by the kernel and hang. */
  hang(): void {
    this.hung = true;
    this.moto.child.kill('SIGSTOP');
  }

  resume(): void {
    this.moto.child.kill('SIGCONT');
    this.hung = false;
  }

  async destroy(): Promise<void> {
    if (this.hung) this.resume();
    await this.down();
    await this.moto.stop();
  }
}

class Chain {
  private handle: StartedProcess | undefined;
  private hung = false;
  readonly url: string;

  private constructor(
    readonly port: number,
    readonly stateFile: string,
    private readonly dir: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async create(): Promise<Chain> {
    const dir = mkdtempSync(join(tmpdir(), 'kagi-rel-anvil-'));
    const c = new Chain(await freePort(), join(dir, 'state.json'), dir);
    await c.start();
    return c;
  }

  get running(): boolean {
    return this.handle !== undefined;
  }

  /** Mixed mining (automine plus a block a second) so parallel sends never stall; the state file keeps the chain across stops. */
  async start(): Promise<void> {
    if (this.handle) return;
    this.handle = track(
      await startAnvil({
        port: this.port,
        stateFile: this.stateFile,
        chainId: CHAIN_ID,
        extraArgs: ['--mixed-mining', '--block-time', '1'],
      }),
    );
  }

  /** Graceful stop (SIGTERM): Anvil writes its state file; its mempool is not kept. */
  async stop(): Promise<void> {
    if (this.hung) await this.resume();
    const h = this.handle;
    this.handle = undefined;
    await h?.stop();
  }

  /** The node stops answering (SIGSTOP), chain and mempool kept: requests are accepted by the kernel and hang. */
  async hang(): Promise<Array<{ pid: number; cmd: string }>> {
    if (!this.handle) throw new Error('Anvil is not running');
    this.hung = true;
    return signalTree(this.handle.child, 'SIGSTOP');
  }

  /** SIGCONT: the node answers again, starting with everything it was sent meanwhile. */
  async resume(): Promise<void> {
    if (!this.handle || !this.hung) return;
    await signalTree(this.handle.child, 'SIGCONT');
    this.hung = false;
  }

  /** Hashes of the mined transactions the stopped node wrote to its state file (what it comes back with; its mempool is not there). */
  minedInStateFile(): Set<string> {
    const state = JSON.parse(readFileSync(this.stateFile, 'utf8')) as { transactions?: Array<{ info?: { transaction_hash?: string } }> };
    return new Set((state.transactions ?? []).map((t) => t.info?.transaction_hash?.toLowerCase() ?? '').filter(Boolean));
  }

  async rpc<T>(method: string, params: unknown[] = []): Promise<T> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      signal: AbortSignal.timeout(5_000),
    });
    const body = (await res.json()) as { result?: T; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result as T;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Stack {
  pg: Postgres;
  kms: Kms;
  chain: Chain;
  destroy(): Promise<void>;
}

export async function startStack(root: string): Promise<Stack> {
  const started = Date.now();
  const settled = await Promise.allSettled([Postgres.create(), Kms.create(root), Chain.create()]);
  const parts = settled.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
  const [pg, kms, chain] = parts as [Postgres | undefined, Kms | undefined, Chain | undefined];
  const destroy = async () => {
    for (const p of [chain, kms, pg]) await p?.destroy().catch((e: unknown) => log(`teardown: ${String(e)}`));
  };
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed || !pg || !kms || !chain) {
    await destroy();
    throw failed?.reason ?? new Error('stack did not start');
  }
  log(`PostgreSQL :${pg.port}, KMS :${kms.port} (moto behind a proxy), Anvil :${chain.port} ready in ${Date.now() - started} ms`);
  return { pg, kms, chain, destroy };
}

export const JWT_SIGNING_KEY = 'reliability-jwt-signing-key-0123456789abcdef0123';
export const ADMIN = { loginId: 'root-admin', password: 'reliability-platform-password-42' };

/** The API's environment: like test/support/app.ts testEnv, pointed at this file's own stack. */
export function apiEnv(stack: Stack, port: number, overrides: Record<string, string> = {}): Record<string, string> {
  // Removed by ApiProcess.destroy().
  const dataDir = mkdtempSync(join(tmpdir(), 'kagi-rel-data-'));
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    TZ: 'UTC',
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    DATABASE_URL: stack.pg.databaseUrl,
    KMS_PROVIDER: 'aws',
    KMS_ENDPOINT: stack.kms.url,
    KMS_KEY_ID: stack.kms.keyId,
    AWS_REGION: stack.kms.region,
    // moto accepts any credentials; the SDK reads them from the environment.
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    CHAIN_RPC_URL: stack.chain.url,
    CHAIN_ID: String(CHAIN_ID),
    JWT_SIGNING_KEY,
    ACCESS_TOKEN_TTL: '2h',
    PLATFORM_ADMIN_LOGIN_ID: ADMIN.loginId,
    PLATFORM_ADMIN_PASSWORD: ADMIN.password,
    WALLET_HTTP_ISSUANCE: 'true',
    DEV_GAS_FUNDING: 'true',
    LOG_LEVEL: 'info',
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_ITERATIONS: '1',
    RATE_LIMIT_PER_MINUTE: '1000000',
    LOGIN_RATE_LIMIT_PER_MINUTE: '1000000',
    ...overrides,
  };
}
