/**
 * With NODE_ENV=production the BUILT app (node dist/src/main.js) refuses each unsafe
 * setting of the contract's Configuration table at start-up: it exits non-zero within
 * seconds, printing one line that names the variable and no secret value. The control:
 * the same environment without the unsafe setting starts and answers /health/ready,
 * against the run's real PostgreSQL, KMS API and chain.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../dev/processes';
import { freshDatabase } from '../support/db';
import { recordChild } from '../support/recording';

const root = process.cwd();
/** An EIP-55 checksummed address (the governance multisig of the safe environment). */
const SAFE_GOVERNANCE_ADDRESS = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
type Env = Record<string, string | undefined>;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  ms: number;
}

/** Starts the built API with exactly `env` (plus PATH/HOME/TMPDIR); kills it after `timeoutMs`. */
function start(env: Env, timeoutMs: number, untilReady?: string): Promise<Run> {
  const started = Date.now();
  const clean: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  const child = spawn(process.execPath, [join(root, 'dist', 'src', 'main.js')], { env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
  recordChild(child, ['main.js (production refusal)']);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  let poll: NodeJS.Timeout | undefined;
  if (untilReady) {
    poll = setInterval(() => {
      void fetch(`${untilReady}/health/ready`, { signal: AbortSignal.timeout(1000) })
        .then((r) => {
          if (r.status === 200) {
            output += '\n[ready]';
            child.kill('SIGTERM');
          }
        })
        .catch(() => undefined);
    }, 200);
  }
  return new Promise((res) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      res({ code, signal, output, ms: Date.now() - started });
    }),
  );
}

describe('production refusals (built app)', () => {
  let safe: Env;
  let secrets: string[];
  let port: number;

  beforeAll(async () => {
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'ignore' });
    port = await freePort();
    const dbPassword = new URL(inject('databaseUrl')).password;
    const jwt = `jwt-${randomBytes(24).toString('hex')}`;
    const adminPassword = `admin-${randomBytes(12).toString('hex')}`;
    secrets = [jwt, adminPassword, dbPassword].filter((s) => s.length >= 8);
    safe = {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: join(inject('runTmpDir'), `kagi-prod-${randomBytes(4).toString('hex')}`),
      DATABASE_URL: await freshDatabase('prod'),
      KMS_PROVIDER: 'aws',
      KMS_KEY_ID: inject('kmsKeyId'),
      KMS_ENDPOINT: inject('kmsEndpoint'),
      AWS_REGION: inject('kmsRegion'),
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      CHAIN_RPC_URL: inject('rpcUrl'),
      CHAIN_ID: String(inject('chainId')),
      JWT_SIGNING_KEY: jwt,
      PLATFORM_ADMIN_LOGIN_ID: 'prod-admin',
      PLATFORM_ADMIN_PASSWORD: adminPassword,
      // A multisig-style governance address: the API needs no KMS governance key to start.
      GOVERNANCE_SIGNER: 'external',
      GOVERNANCE_ADDRESS: SAFE_GOVERNANCE_ADDRESS,
      // Never contacted at start: mail goes out as jobs when there is some.
      SMTP_URL: 'smtp://127.0.0.1:9',
      LOG_LEVEL: 'warn',
    };
  }, 60_000);

  it('starts with the safe production environment (control)', async () => {
    const r = await start(safe, 30_000, `http://127.0.0.1:${port}`);
    expect(r.output, r.output).toContain('[ready]');
    for (const s of secrets) expect(r.output).not.toContain(s);
  }, 40_000);

  const cases: Array<[variable: string, setting: string, change: Env]> = [
    ['KMS_PROVIDER', '=local', { KMS_PROVIDER: 'local' }],
    ['KMS_PROVIDER', 'unset', { KMS_PROVIDER: undefined }],
    ['DEV_GAS_FUNDING', '=true', { DEV_GAS_FUNDING: 'true' }],
    ['WALLET_HTTP_ISSUANCE', '=true', { WALLET_HTTP_ISSUANCE: 'true' }],
    ['JWT_SIGNING_KEY', 'unset', { JWT_SIGNING_KEY: undefined }],
    ['JWT_SIGNING_KEY', '18 characters', { JWT_SIGNING_KEY: 'short-secret-value' }],
    ['CHAIN_ID', 'unset', { CHAIN_ID: undefined }],
    ['DATABASE_URL', 'unset', { DATABASE_URL: undefined }],
    ['CHAIN_RPC_URL', 'unset', { CHAIN_RPC_URL: undefined }],
    ['SMTP_URL', 'unset', { SMTP_URL: undefined }],
    ['PLATFORM_ADMIN_PASSWORD', 'the .env.example one', { PLATFORM_ADMIN_PASSWORD: 'kagi-dev-password-change-me' }],
    ['PLATFORM_ADMIN_PASSWORD', '8 characters', { PLATFORM_ADMIN_PASSWORD: 'short-pw' }],
    ['KMS_ENDPOINT', 'plain http to a host name', { KMS_ENDPOINT: 'http://kms.example.com' }],
    ['KMS_ENDPOINT', 'plain http to a private address', { KMS_ENDPOINT: 'http://10.0.0.5:4566' }],
    ['GOVERNANCE_SIGNER', '=local', { GOVERNANCE_SIGNER: 'local', GOVERNANCE_ADDRESS: undefined }],
    ['GOVERNANCE_SIGNER', 'unset', { GOVERNANCE_SIGNER: undefined, GOVERNANCE_ADDRESS: undefined }],
    ['GOVERNANCE_SIGNER', 'unset, GOVERNANCE_ADDRESS set', { GOVERNANCE_SIGNER: undefined }],
    ['GOVERNANCE_KMS_KEY_ID', 'unset with GOVERNANCE_SIGNER=kms', { GOVERNANCE_SIGNER: 'kms', GOVERNANCE_ADDRESS: undefined }],
    ['GOVERNANCE_ADDRESS', 'unset with GOVERNANCE_SIGNER=external', { GOVERNANCE_ADDRESS: undefined }],
    ['GOVERNANCE_ADDRESS', 'not checksummed', { GOVERNANCE_ADDRESS: SAFE_GOVERNANCE_ADDRESS.toLowerCase() }],
    // NODE_ENV defaults to production: the same refusal without it.
    ['KMS_PROVIDER', '=local, NODE_ENV unset', { NODE_ENV: undefined, KMS_PROVIDER: 'local' }],
  ];

  it.each(cases)(
    'refuses %s (%s) and names it in one line, printing no secret',
    async (variable, _setting, over) => {
      const env = { ...safe, ...over };
      const r = await start(env, 20_000);
      expect(r.signal, `not refused within 20 s:\n${r.output}`).toBeNull();
      expect(r.code).not.toBe(0);
      const lines = r.output.split('\n').filter((l) => l.trim());
      expect(lines, r.output).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^config: ${variable} `));
      // Neither the environment's secrets nor the refused value itself.
      const shown = [
        ...secrets,
        ...Object.values(over).filter((v): v is string => !!v && v.length >= 8 && !/^(true|local|aws)$/.test(v) && !v.startsWith('http')),
      ];
      for (const s of shown) expect(r.output, 'a secret value is printed').not.toContain(s);
      // Last, so that a slow machine still shows whether the line itself is right.
      expect(r.ms).toBeLessThan(10_000);
    },
    30_000,
  );

  it('refuses a CHAIN_ID that is not the chain at CHAIN_RPC_URL, naming it', async () => {
    const r = await start({ ...safe, CHAIN_ID: '1' }, 30_000, `http://127.0.0.1:${port}`);
    expect(r.output).not.toContain('[ready]');
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('CHAIN_ID');
    for (const s of secrets) expect(r.output).not.toContain(s);
  }, 40_000);
});
