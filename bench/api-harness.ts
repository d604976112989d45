/**
 * What a bench needs to drive the API as deployed: the API as its own process(es), a raw
 * viem baseline on the same Anvil, a lane per signer (operator, investor, token), CPU readings.
 *
 * Shared by the pipeline, batches and scale suites.
 */
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { createPublicClient, createWalletClient, defineChain, encodeFunctionData, http, parseEther, type Address } from 'viem';
import { generatePrivateKey, mnemonicToAccount, privateKeyToAccount } from 'viem/accounts';
import { securityTokenAbi, securityTokenBytecode } from '../src/chain/contracts/security-token.abi';
import { custodyAddressOf } from '../src/chain/custody-address';
import { API_HEAP_MB, freePort, startAnvil, startPostgres, waitFor, type PostgresHandle, type StartedProcess } from '../dev/processes';
import { treeCpuSeconds } from './proc';

const MNEMONIC = 'test test test test test test test test test test test junk';
const ADMIN = { loginId: 'bench-admin', password: 'bench-platform-password' };

/** `--name value` from the command line. */
export const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};

export const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

/** CPU seconds of a process tree; 0 once it is gone. */
export const treeCpu = (pid: number): number => treeCpuSeconds(pid) ?? 0;

export async function json(
  base: string,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, string>; headers: Headers }> {
  const r = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json().catch(() => ({}))) as Record<string, string>, headers: r.headers };
}

export interface ApiHandle {
  base: string;
  pid: number;
  stop: () => Promise<void>;
}

/** The API as deployed: `node dist/src/main.js` in its own process, so its CPU and RSS are its own. */
export async function startApi(env: Record<string, string>): Promise<ApiHandle> {
  const port = await freePort();
  // BENCH_API_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the API process.
  const nodeArgs = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [`--max-old-space-size=${API_HEAP_MB}`, ...nodeArgs, join(process.cwd(), 'dist', 'src', 'main.js')],
    {
      env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const base = `http://127.0.0.1:${port}`;
  let exited = false;
  child.once('exit', () => (exited = true));
  await waitFor(
    async () => {
      if (exited) throw new Error('the API exited during start-up');
      return (
        (await fetch(`${base}/health/ready`)
          .then((r) => r.status)
          .catch(() => 0)) === 200
      );
    },
    60_000,
    'the API',
  );
  return {
    base,
    pid: child.pid!,
    stop: async () => {
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    },
  };
}

/** The API's environment for a bench (local keyring unless overridden; log lines to /dev/null). */
export function benchEnv(rpcUrl: string, databaseUrl: string, dataDir: string): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    CHAIN_RPC_URL: rpcUrl,
    CHAIN_ID: '31337',
    JWT_SIGNING_KEY: 'bench-jwt-signing-key-0123456789abcdef0123456789',
    PLATFORM_ADMIN_LOGIN_ID: ADMIN.loginId,
    PLATFORM_ADMIN_PASSWORD: ADMIN.password,
    WALLET_HTTP_ISSUANCE: 'true',
    DEV_GAS_FUNDING: 'true',
    LOG_LEVEL: 'info',
    RATE_LIMIT_PER_MINUTE: '1000000',
    LOGIN_RATE_LIMIT_PER_MINUTE: '1000000',
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_ITERATIONS: '1',
    KMS_PROVIDER: 'local',
    DATA_DIR: dataDir,
  };
}

export interface Infra {
  pg: PostgresHandle;
  anvil: StartedProcess;
  /** A database of its own on the embedded server. */
  databaseUrl: string;
  /** A fresh chain on the same Anvil (its cost per transaction grows with the chain's length). */
  resetChain: () => Promise<void>;
  stop: () => Promise<void>;
}

/** Embedded PostgreSQL (database `kagi_bench`) and an automining Anvil, on free ports. */
export async function startInfra(): Promise<Infra> {
  const pgDir = mkdtempSync(join(tmpdir(), 'kagi-bench-pg-'));
  const pg = await startPostgres({ dir: pgDir, port: await freePort(), password: 'bench' });
  const anvil = await startAnvil({ port: await freePort() });
  const c = new PgClient({ connectionString: pg.url });
  await c.connect();
  await c.query('CREATE DATABASE kagi_bench');
  await c.end();
  return {
    pg,
    anvil,
    databaseUrl: pg.url.replace(/\/postgres$/, '/kagi_bench'),
    resetChain: async () => {
      const r = await fetch(anvil.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'anvil_reset', params: [] }),
      });
      if (!r.ok) throw new Error(`anvil_reset answered ${r.status}`);
    },
    stop: async () => {
      await anvil.stop();
      await pg.stop();
      rmSync(pgDir, { recursive: true, force: true });
    },
  };
}

/** A fresh agent key with gas and a token it is agent of (what the raw rows sign with). */
export async function rawAgent(rpcUrl: string) {
  const chain = defineChain({
    id: 31337,
    name: 'anvil',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const pub = createPublicClient({ transport: http(rpcUrl), pollingInterval: 50, cacheTime: 0 });
  const funder = mnemonicToAccount(MNEMONIC);
  const agent = privateKeyToAccount(generatePrivateKey()); // bench-only throwaway key
  const fw = createWalletClient({ account: funder, chain, transport: http(rpcUrl) });
  await pub.waitForTransactionReceipt({ hash: await fw.sendTransaction({ to: agent.address, value: parseEther('100') }) });
  const dep = await pub.waitForTransactionReceipt({
    hash: await createWalletClient({ account: agent, chain, transport: http(rpcUrl) }).deployContract({
      abi: securityTokenAbi,
      bytecode: securityTokenBytecode,
      args: ['Raw', 'RAW', 0, funder.address, agent.address, false, custodyAddressOf(randomUUID())],
    }),
  });
  return { pub, agent, token: dep.contractAddress as Address };
}

/** rawAgent, and a signed-`mint` maker for it. */
async function rawSetup(rpcUrl: string) {
  const { pub, agent, token } = await rawAgent(rpcUrl);
  const holder = privateKeyToAccount(generatePrivateKey()).address;
  const data = encodeFunctionData({ abi: securityTokenAbi, functionName: 'mint', args: [holder, 1n] });
  const gas = (await pub.estimateGas({ account: agent.address, to: token, data })) * 2n;
  const fees = await pub.estimateFeesPerGas();
  let nonce = await pub.getTransactionCount({ address: agent.address, blockTag: 'pending' });
  const nextSigned = () =>
    agent.signTransaction({
      chainId: 31337,
      type: 'eip1559',
      nonce: nonce++,
      to: token,
      data,
      gas,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
  return { pub, nextSigned };
}

/** (a) raw: viem signs `mint` calls with an in-memory key and sends them serially — what Anvil accepts. */
export async function raw(rpcUrl: string, n: number, anvilPid: number): Promise<{ rate: number; cpu: Record<string, number> }> {
  const { pub, nextSigned } = await rawSetup(rpcUrl);
  const cpu0 = { anvil: treeCpu(anvilPid), self: process.cpuUsage() };
  const t0 = performance.now();
  let last: `0x${string}` = '0x';
  for (let i = 0; i < n; i++) last = await pub.sendRawTransaction({ serializedTransaction: await nextSigned() });
  await pub.waitForTransactionReceipt({ hash: last });
  const rate = n / ((performance.now() - t0) / 1000);
  const self = process.cpuUsage(cpu0.self);
  return {
    rate,
    cpu: {
      'load generator CPU ms/op': Number(((self.user + self.system) / 1000 / n).toFixed(2)),
      'Anvil CPU ms/op': Number((((treeCpu(anvilPid) - cpu0.anvil) * 1000) / n).toFixed(2)),
    },
  };
}

/** Raw send + receipt, one at a time: sign, eth_sendRawTransaction, then eth_getTransactionReceipt until it is there. */
export async function rawLatency(rpcUrl: string, n: number): Promise<number[]> {
  const { pub, nextSigned } = await rawSetup(rpcUrl);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const hash = await pub.sendRawTransaction({ serializedTransaction: await nextSigned() });
    while (!(await pub.getTransactionReceipt({ hash }).catch(() => undefined))) await new Promise((r) => setTimeout(r, 1));
    out.push(performance.now() - t0);
  }
  return out;
}

export interface Lane {
  /** The firm's (operator's) access token. */
  token: string;
  operatorId: string;
  tokenId: string;
  userId: string;
}

export async function adminLogin(base: string): Promise<string> {
  return (await json(base, 'POST', '/v1/auth/login', undefined, ADMIN)).body.accessToken!;
}

/** One signer: a firm (operator) with its own password, one investor with a wallet, one active token. */
export async function createLane(base: string, admin: string, tag: string): Promise<Lane> {
  const loginId = `bench-op-${tag}`;
  const op = await json(base, 'POST', '/v1/operators', admin, {
    name: `Bench ${tag}`,
    email: `${tag}@example.com`,
    password: 'bench-operator-pw',
    loginId,
  });
  if (op.status !== 201) throw new Error(`create operator answered ${op.status}: ${JSON.stringify(op.body)}`);
  const first = (await json(base, 'POST', '/v1/auth/login', undefined, { loginId, password: 'bench-operator-pw' })).body.accessToken!;
  // A password set by the admin is changed at the first login.
  await json(base, 'POST', '/v1/auth/password', first, { currentPassword: 'bench-operator-pw', newPassword: 'bench-operator-pw-own' });
  const token = (await json(base, 'POST', '/v1/auth/login', undefined, { loginId, password: 'bench-operator-pw-own' })).body.accessToken!;
  const user = (await json(base, 'POST', '/v1/users', token, { name: 'bench', email: 'u@example.com' })).body.id!;
  await fetch(`${base}/v1/users/${user}/wallet`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: '{}',
  }).then((r) => r.arrayBuffer());
  const tk = await json(base, 'POST', '/v1/tokens', token, { name: 'Bench', symbol: 'BNC', decimals: 0 }, { prefer: 'wait=60' });
  if (tk.body.status !== 'active') throw new Error(`token deploy answered ${tk.status}: ${JSON.stringify(tk.body)}`);
  return { token, operatorId: op.body.id!, tokenId: tk.body.id!, userId: user };
}
