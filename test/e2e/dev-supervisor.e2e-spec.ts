/**
 * `npm run dev` as a newcomer uses it: the built supervisor starts embedded PostgreSQL,
 * Anvil and the API, prints the ready line, keeps data across restarts (also after
 * kill -9), cleans up stale children, stops everything on SIGTERM, and names a busy port.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/processes';
import { getAddress } from 'viem';
import { ADMIN, createOperator, login } from '../support/api';
import { http } from '../support/app';
import { recordChild } from '../support/recording';

const root = process.cwd();
const supervisorJs = join(root, 'dist', 'dev', 'supervisor.js');

interface Run {
  child: ChildProcess;
  ready: Promise<{ api: string; chain: string; db: string }>;
  output: () => string;
  exited: Promise<number | null>;
}

const started: ChildProcess[] = [];

function startDev(env: Record<string, string>): Run {
  const child = spawn(process.execPath, [supervisorJs], {
    env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  recordChild(child, [supervisorJs]);
  let out = '';
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const ready = new Promise<{ api: string; chain: string; db: string }>((res, rej) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /^ready (\S+) chain=(\S+) db=(\S+)$/m.exec(out);
      if (m?.[1] && m[2] && m[3]) res({ api: m[1], chain: m[2], db: m[3] });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => rej(new Error(`supervisor exited (${code}) before ready:\n${out.slice(-2000)}`)));
  });
  ready.catch(() => undefined);
  return { child, ready, exited, output: () => out };
}

/** The ready line's database URL (password shown as `…`) with the embedded database's password from DATA_DIR. */
function connectable(db: string, dataDir: string): string {
  expect(db).toMatch(/^postgres:\/\/postgres:…@127\.0\.0\.1:\d+\/kagi$/);
  const password = readFileSync(join(dataDir, 'pg-password'), 'utf8').trim();
  return db.replace(':…@', `:${encodeURIComponent(password)}@`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function rpc(url: string, method: string, params: unknown[] = []): Promise<any> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  return ((await r.json()) as { result: unknown }).result;
}

describe('npm run dev (supervisor)', () => {
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    // The supervisor runs from the build, as `npm run dev` does.
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'ignore' });
    dataDir = mkdtempSync(join(tmpdir(), 'kagi-dev-e2e-'));
    env = { DATA_DIR: dataDir, PORT: String(await freePort()), ANVIL_PORT: String(await freePort()) };
  }, 120_000);

  afterAll(async () => {
    // A failed assertion must not leave a stack running: stop every supervisor we started.
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 3000));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts everything, keeps data across restarts and kill -9, and stops every child on SIGTERM', async () => {
    // First run: ready line, health, docs.
    const first = startDev(env);
    const r1 = await first.ready;
    expect(r1.api).toBe(`http://127.0.0.1:${env.PORT}`);
    expect(r1.chain).toBe(`http://127.0.0.1:${env.ANVIL_PORT}`);
    // The database password is not printed.
    expect(first.output()).not.toContain(readFileSync(join(dataDir, 'pg-password'), 'utf8').trim());
    expect((await fetch(`${r1.api}/health/ready`)).status).toBe(200);
    expect((await fetch(`${r1.api}/docs`)).status).toBe(200);

    // Leave a mark in the database and on the chain.
    const db = new Client({ connectionString: connectable(r1.db, dataDir) });
    await db.connect();
    await db.query('CREATE TABLE IF NOT EXISTS dev_marker (v text)');
    await db.query("INSERT INTO dev_marker VALUES ('kept')");
    await db.end();
    const [acct] = (await rpc(r1.chain, 'eth_accounts')) as string[];
    const txHash = (await rpc(r1.chain, 'eth_sendTransaction', [
      { from: acct, to: '0x000000000000000000000000000000000000dEaD', value: '0x1234' },
    ])) as string;
    await expect.poll(() => rpc(r1.chain, 'eth_getTransactionReceipt', [txHash]), { timeout: 10_000, interval: 100 }).toBeTruthy();
    const balance1 = await rpc(r1.chain, 'eth_getBalance', ['0x000000000000000000000000000000000000dEaD', 'latest']);

    // The API killed with -9: the supervisor brings it back.
    const pids1 = JSON.parse(readFileSync(join(dataDir, 'dev-pids.json'), 'utf8')) as Array<{ name: string; pid: number }>;
    const api1 = pids1.find((p) => p.name === 'api');
    expect(api1).toBeDefined();
    process.kill(api1!.pid, 'SIGKILL');
    await expect
      .poll(async () => (await fetch(`${r1.api}/health/ready`).catch(() => ({ status: 0 }))).status, { timeout: 60_000, interval: 500 })
      .toBe(200);

    // SIGTERM: every child stops.
    const pids = (JSON.parse(readFileSync(join(dataDir, 'dev-pids.json'), 'utf8')) as Array<{ pid: number }>).map((p) => p.pid);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(existsSync(join(dataDir, 'dev-pids.json'))).toBe(false);

    // Second run: data kept; then the supervisor itself is killed -9, leaving orphans.
    const second = startDev(env);
    const r2 = await second.ready;
    const db2 = new Client({ connectionString: connectable(r2.db, dataDir) });
    await db2.connect();
    expect((await db2.query('SELECT v FROM dev_marker')).rows).toEqual([{ v: 'kept' }]);
    await db2.end();
    expect(await rpc(r2.chain, 'eth_getBalance', ['0x000000000000000000000000000000000000dEaD', 'latest'])).toBe(balance1);
    // Let Anvil's periodic state dump (every 5 s) include the chain state before the hard kill.
    await new Promise((r) => setTimeout(r, 6000));
    const orphans = (JSON.parse(readFileSync(join(dataDir, 'dev-pids.json'), 'utf8')) as Array<{ pid: number }>).map((p) => p.pid);
    second.child.kill('SIGKILL');
    await second.exited;
    expect(orphans.some(alive)).toBe(true);

    // Third run cleans the stale children up and still has the data.
    const third = startDev(env);
    const r3 = await third.ready;
    expect(third.output()).toMatch(/stopping stale/);
    for (const pid of orphans) expect(alive(pid)).toBe(false);
    const db3 = new Client({ connectionString: connectable(r3.db, dataDir) });
    await db3.connect();
    expect((await db3.query('SELECT v FROM dev_marker')).rows).toEqual([{ v: 'kept' }]);
    await db3.end();
    expect(await rpc(r3.chain, 'eth_getBalance', ['0x000000000000000000000000000000000000dEaD', 'latest'])).toBe(balance1);
    third.child.kill('SIGINT');
    expect(await third.exited).toBe(0);
  }, 300_000);

  it('runs governance in its own process, as production does: the API only queues its rows, the process signs them; kill -9 brings it back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kagi-dev-gov-'));
    const run = startDev({
      DATA_DIR: dir,
      PORT: String(await freePort()),
      ANVIL_PORT: String(await freePort()),
      PLATFORM_ADMIN_LOGIN_ID: ADMIN.loginId,
      PLATFORM_ADMIN_PASSWORD: ADMIN.password,
    });
    try {
      const r = await run.ready;
      const pidsOf = () => JSON.parse(readFileSync(join(dir, 'dev-pids.json'), 'utf8')) as Array<{ name: string; pid: number }>;
      const gov1 = pidsOf().find((p) => p.name === 'governance');
      expect(gov1 && alive(gov1.pid)).toBe(true);
      const admin = await login(r.api, ADMIN.loginId, ADMIN.password);
      const op = await createOperator(r.api, admin);
      const tk = await http(r.api, 'POST', '/v1/tokens', {
        token: op.token,
        body: { name: 'Dev governance', symbol: 'DEVG', decimals: 0 },
        headers: { prefer: 'wait=30' },
      });
      expect(tk.body.status, tk.text).toBe('active');

      // The governance process stopped (SIGSTOP): the API only queues the emergency pause's rows.
      process.kill(gov1!.pid, 'SIGSTOP');
      const legalBasis = { code: 'regulatory', reference: 'dev e2e', note: 'governance in its own process' };
      const p = await http(r.api, 'POST', `/v1/operators/${op.id}/emergency-pause`, { token: admin, body: { legalBasis } });
      expect(p.status, p.text).toBe(202);
      const pause = (p.body.transactions as Array<{ id: string; kind: string }>).find((x) => x.kind === 'governance-pause')!;
      const statusOf = async () => (await http(r.api, 'GET', `/v1/transactions/${pause.id}`, { token: admin })).body.status as string;
      await new Promise((res) => setTimeout(res, 3000));
      expect(await statusOf()).toBe('queued');
      // It resumes and signs the row.
      process.kill(gov1!.pid, 'SIGCONT');
      await expect.poll(statusOf, { timeout: 60_000, interval: 500 }).toBe('confirmed');
      // kill -9: the supervisor brings it back.
      process.kill(gov1!.pid, 'SIGKILL');
      await expect
        .poll(() => pidsOf().find((x) => x.name === 'governance' && x.pid !== gov1!.pid && alive(x.pid)), { timeout: 30_000 })
        .toBeTruthy();
      const done = (await http(r.api, 'GET', `/v1/transactions/${pause.id}`, { token: admin })).body;
      const receipt = await rpc(r.chain, 'eth_getTransactionReceipt', [done.txHash]);
      expect(receipt.status).toBe('0x1');
      expect(getAddress(receipt.from)).toBe(getAddress(done.from));
      // Governance is not the firm's key: the admin of the token, distinct from the agent.
      expect(getAddress(done.from)).not.toBe(getAddress(op.signerAddress));
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);

  it('names the busy port in one line when PORT is taken', async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      const run = startDev({ ...env, DATA_DIR: mkdtempSync(join(tmpdir(), 'kagi-dev-busy-')), PORT: String(port) });
      expect(await run.exited).toBe(1);
      const lines = run.output().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`port ${port} (PORT) is already in use`);
    } finally {
      blocker.close();
    }
  }, 60_000);

  it('stops every child when `npm run dev` itself receives SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kagi-dev-npm-'));
    const env2 = { ...process.env, DATA_DIR: dir, PORT: String(await freePort()), ANVIL_PORT: String(await freePort()), LOG_LEVEL: 'warn' };
    const npm = spawn('npm', ['run', 'dev'], { cwd: root, env: env2, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(npm);
    recordChild(npm, ['npm', 'run', 'dev']);
    let out = '';
    npm.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    npm.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    await expect.poll(() => /^ready /m.test(out), { timeout: 120_000, interval: 200 }).toBe(true);
    const pids = (JSON.parse(readFileSync(join(dir, 'dev-pids.json'), 'utf8')) as Array<{ pid: number }>).map((p) => p.pid);
    expect(pids.length).toBe(4); // postgres, anvil, api, governance
    npm.kill('SIGTERM');
    await expect.poll(() => pids.filter(alive).length, { timeout: 30_000, interval: 200 }).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);
});
