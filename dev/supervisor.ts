/**
 * `npm run dev`: the embedded default. A small supervisor (not the API itself) that
 * starts embedded PostgreSQL, Anvil, the API and the governance process as children, prints one line
 *   ready <api-url> chain=<rpc-url> db=<database-url>
 * once /health/ready answers 200, and stops them all on SIGINT/SIGTERM.
 *
 * - All state lives under DATA_DIR (default .data/): PostgreSQL data, Anvil state, the
 *   local KMS keyring, the dev JWT key. A restart keeps it, also after a kill -9.
 * - Children's pids (with their command lines) are recorded in DATA_DIR/dev-pids.json;
 *   stale children of an earlier run of the same DATA_DIR are stopped at start.
 * - DATABASE_URL or CHAIN_RPC_URL in the environment replace the embedded database or
 *   chain; KMS_PROVIDER, DEV_GAS_FUNDING, WALLET_HTTP_ISSUANCE defaults yield to the env.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { Client } from 'pg';
import {
  API_HEAP_MB,
  isRoot,
  portIsFree,
  postgresCanReach,
  rpcReady,
  startAnvil,
  startPostgres,
  waitFor,
  freePort,
  type StartedProcess,
} from './processes';

const log = (msg: string) => process.stderr.write(`[dev] ${msg}\n`);
const fail = (msg: string): never => {
  process.stderr.write(`[dev] error: ${msg}\n`);
  process.exit(1);
};

interface PidRecord {
  name: string;
  pid: number;
  cmdline: string;
}

function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops children recorded by an earlier run of this DATA_DIR, if they are still the same processes. */
async function cleanStale(pidFile: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  let records: PidRecord[] = [];
  try {
    records = JSON.parse(readFileSync(pidFile, 'utf8')) as PidRecord[];
  } catch {
    /* unreadable: nothing to clean */
  }
  for (const r of records) {
    if (r.pid === process.pid || !alive(r.pid) || cmdlineOf(r.pid) !== r.cmdline) continue;
    log(`stopping stale ${r.name} (pid ${r.pid}) left by an earlier run`);
    process.kill(r.pid, r.name === 'postgres' ? 'SIGINT' : 'SIGTERM');
    const deadline = Date.now() + 15_000;
    while (alive(r.pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    if (alive(r.pid)) process.kill(r.pid, 'SIGKILL');
  }
  rmSync(pidFile, { force: true });
}

function recordPids(pidFile: string, children: Array<{ name: string; child: ChildProcess }>): void {
  const records: PidRecord[] = [];
  for (const { name, child } of children) {
    if (!child.pid) continue;
    const cmdline = cmdlineOf(child.pid);
    if (cmdline) records.push({ name, pid: child.pid, cmdline });
  }
  writeFileSync(pidFile, JSON.stringify(records, null, 2) + '\n', { mode: 0o600 });
}

function readOrCreate(file: string, make: () => string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const v = make();
  writeFileSync(file, v + '\n', { mode: 0o600 });
  return v;
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (r.rowCount === 0) await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
}

/** GET status code; accepts the self-signed certificate of a local TLS setup. */
function statusOf(url: string): Promise<number> {
  return new Promise((res, rej) => {
    const mod = url.startsWith('https') ? httpsGet : httpGet;
    const req = mod(url, { rejectUnauthorized: false, timeout: 2000 }, (r) => {
      r.resume();
      res(r.statusCode ?? 0);
    });
    req.on('error', rej);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const env = process.env;
  const dataDir = resolve(env.DATA_DIR ?? '.data');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const apiPort = Number(env.PORT ?? 3000);
  const anvilPort = Number(env.ANVIL_PORT ?? 8545);
  const pidFile = join(dataDir, 'dev-pids.json');
  const children: Array<{ name: string; child: ChildProcess }> = [];
  const stops: Array<() => Promise<void>> = [];
  let shuttingDown = false;

  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log('stopping');
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(pidFile, { force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGHUP', () => void shutdown(0));
  // `npm run dev` → sh → supervisor: npm does not always pass a SIGTERM down to us. When our
  // parent goes away we are orphaned, and stop everything we started rather than linger.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) {
      log('the launching process exited');
      void shutdown(0);
    }
  }, 300).unref();

  await cleanStale(pidFile);

  if (!(await portIsFree(apiPort))) fail(`port ${apiPort} (PORT) is already in use: stop what uses it or set PORT=<free port>`);
  const embeddedChain = !env.CHAIN_RPC_URL;
  if (embeddedChain && !(await portIsFree(anvilPort)))
    fail(`port ${anvilPort} (ANVIL_PORT) is already in use: stop what uses it or set ANVIL_PORT=<free port>`);

  // PostgreSQL
  let databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) {
    let pgDir = join(dataDir, 'postgres');
    // As root, PostgreSQL runs as user postgres: let it traverse (not list) DATA_DIR.
    if (isRoot() && postgresCanReach(dataDir)) chmodSync(dataDir, 0o711);
    if (isRoot() && !postgresCanReach(pgDir)) {
      // PostgreSQL runs as user postgres, who cannot enter this directory's parents.
      const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
      const base = `/var/tmp/kagi-${hash}`;
      mkdirSync(base, { recursive: true });
      chmodSync(base, 0o755);
      pgDir = join(base, 'postgres');
      log(`user postgres cannot reach ${dataDir}; keeping the embedded database in ${pgDir}`);
    }
    const password = readOrCreate(join(dataDir, 'pg-password'), () => randomBytes(18).toString('base64url'));
    const savedPort = join(dataDir, 'pg-port');
    let pgPort = existsSync(savedPort) ? Number(readFileSync(savedPort, 'utf8').trim()) : await freePort();
    if (!(await portIsFree(pgPort))) pgPort = await freePort();
    writeFileSync(savedPort, `${pgPort}\n`);
    const pg = await startPostgres({ dir: pgDir, port: pgPort, password }).catch((e: unknown) =>
      fail(`embedded PostgreSQL: ${e instanceof Error ? e.message : String(e)}`),
    );
    children.push({ name: 'postgres', child: pg.child });
    stops.push(() => pg.stop());
    recordPids(pidFile, children);
    await ensureDatabase(pg.url, 'kagi');
    databaseUrl = pg.url.replace(/\/postgres$/, '/kagi');
  }

  // Chain
  let rpcUrl = env.CHAIN_RPC_URL;
  let chainId = env.CHAIN_ID;
  if (embeddedChain) {
    const anvil: StartedProcess = await startAnvil({ port: anvilPort, stateFile: join(dataDir, 'anvil-state.json') }).catch((e: unknown) =>
      fail(`Anvil: ${e instanceof Error ? e.message : String(e)}`),
    );
    children.push({ name: 'anvil', child: anvil.child });
    stops.push(() => anvil.stop());
    recordPids(pidFile, children);
    rpcUrl = anvil.url;
    chainId ??= '31337';
  } else if (rpcUrl && !(await rpcReady(rpcUrl).catch(() => false))) {
    log(`warning: CHAIN_RPC_URL ${rpcUrl} does not answer yet; /health/ready will say so`);
  }

  const apiEnv: NodeJS.ProcessEnv = {
    ...env,
    NODE_ENV: env.NODE_ENV ?? 'development',
    DATA_DIR: dataDir,
    PORT: String(apiPort),
    DATABASE_URL: databaseUrl,
    CHAIN_RPC_URL: rpcUrl,
    ...(chainId ? { CHAIN_ID: chainId } : {}),
    KMS_PROVIDER: env.KMS_PROVIDER ?? 'local',
    DEV_GAS_FUNDING: env.DEV_GAS_FUNDING ?? (embeddedChain ? 'true' : 'false'),
    WALLET_HTTP_ISSUANCE: env.WALLET_HTTP_ISSUANCE ?? 'true',
    GOVERNANCE_OWN_PROCESS: env.GOVERNANCE_OWN_PROCESS ?? 'true',
  };
  // The CLI on this machine finds the embedded services through this file (dev only).
  const devEnv = ['DATABASE_URL', 'CHAIN_RPC_URL', 'CHAIN_ID', 'KMS_PROVIDER', 'NODE_ENV', 'DEV_GAS_FUNDING', 'WALLET_HTTP_ISSUANCE']
    .filter((k) => apiEnv[k] !== undefined)
    .map((k) => `${k}=${apiEnv[k]}`)
    .join('\n');
  writeFileSync(join(dataDir, 'dev.env'), devEnv + '\n', { mode: 0o600 });

  const scheme = env.TLS_CERT_FILE ? 'https' : 'http';
  const apiUrl = `${scheme}://127.0.0.1:${apiPort}`;
  let everReady = false;

  /**
   * A kagi process (the API, the governance signer) in its own process group, restarted when it
   * exits after start-up (giving up after 5 exits in a minute), stopped with SIGTERM at shutdown.
   */
  const supervise = (name: string, label: string, script: string, childEnv: NodeJS.ProcessEnv): void => {
    const js = join(__dirname, '..', 'src', script);
    const restarts: number[] = [];
    // Own process group: a Ctrl-C to the terminal's group reaches the supervisor, which stops
    // the children in order, instead of racing it to kill them directly.
    const start = (): ChildProcess => {
      const child = spawn(process.execPath, [`--max-old-space-size=${API_HEAP_MB}`, js], {
        env: childEnv,
        stdio: ['ignore', 'inherit', 'inherit'],
        detached: true,
      });
      const entry = { name, child };
      children.push(entry);
      recordPids(pidFile, children);
      child.on('exit', (code, signal) => {
        children.splice(children.indexOf(entry), 1);
        if (shuttingDown) return;
        if (!everReady) {
          process.stderr.write(`[dev] error: ${label} exited during start-up (${signal ?? `code ${code}`}); see the line above\n`);
          void shutdown(1);
          return;
        }
        const now = Date.now();
        restarts.push(now);
        while (restarts.length && (restarts[0] ?? 0) < now - 60_000) restarts.shift();
        if (restarts.length > 5) {
          process.stderr.write(`[dev] error: ${label} keeps exiting; giving up\n`);
          void shutdown(1);
          return;
        }
        log(`${label} exited (${signal ?? `code ${code}`}); restarting it`);
        setTimeout(() => {
          if (!shuttingDown) current = start();
        }, 500);
      });
      return child;
    };
    let current = start();
    stops.push(
      () =>
        new Promise<void>((res) => {
          const c = current;
          if (c.exitCode !== null || c.signalCode !== null) return res();
          const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
          c.once('exit', () => {
            clearTimeout(t);
            res();
          });
          c.kill('SIGTERM');
        }),
    );
  };
  supervise('api', 'the API', 'main.js', apiEnv);
  // Governance signs in its own process, as in production (the API only queues its rows).
  supervise('governance', 'the governance process', join('governance', 'main.js'), apiEnv);

  await waitFor(() => statusOf(`${apiUrl}/health/ready`).then((s) => s === 200), 180_000, 'the API (/health/ready)').catch((e: unknown) => {
    process.stderr.write(`[dev] error: ${e instanceof Error ? e.message : String(e)}\n`);
    return shutdown(1);
  });
  everReady = true;
  // The database password stays out of the console (it is in DATA_DIR/pg-password for the embedded one).
  process.stdout.write(`ready ${apiUrl} chain=${rpcUrl} db=${withoutPassword(databaseUrl)}\n`);
}

/** A connection URL with its password replaced by `…`. */
function withoutPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:…@');
}

main().catch((e: unknown) => fail(e instanceof Error ? e.message : String(e)));
