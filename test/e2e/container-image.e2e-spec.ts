/**
 * The container image without Docker (none runs here): the Dockerfile is parsed and its
 * runtime stage replayed step by step — a production install from the lockfile (`npm ci
 * --omit=dev`, with a private npm cache so `npm cache clean` touches nothing of this
 * machine) in a temporary directory standing for /app, the build stage's dist/ and assets/
 * copied in, then the image's CMD started with NODE_ENV=production against this run's real
 * PostgreSQL, KMS API and chain, and the image's HEALTHCHECK run against it.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../dev/processes';
import { freshDatabase } from '../support/db';
import { recordChild } from '../support/recording';

const root = process.cwd();

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  steps: Instruction[];
}

/** Stages of a Dockerfile: continuation lines joined, comments dropped. */
function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  const stages: Stage[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`unparsed Dockerfile line: ${line}`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (op === 'FROM') {
      const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ from: image!, name, steps: [] });
    } else {
      const stage = stages[stages.length - 1];
      if (!stage) throw new Error(`${op} before FROM`);
      stage.steps.push({ op, args });
    }
  }
  return stages;
}

/** The exec form `["a", "b"]` of CMD/HEALTHCHECK as an argv. */
const execForm = (s: string): string[] => JSON.parse(s.slice(s.indexOf('['))) as string[];

describe('container image (Dockerfile replayed without Docker)', () => {
  const stages = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
  const build = stages.find((s) => s.name === 'build');
  const runtime = stages[stages.length - 1]!;
  const steps = (s: Stage | undefined, op: string) => (s?.steps ?? []).filter((i) => i.op === op).map((i) => i.args);
  let app: string;
  let env: Record<string, string>;
  let port: number;
  let child: ReturnType<typeof spawn> | undefined;
  let output = '';

  beforeAll(() => {
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'ignore' });
  }, 120_000);
  afterAll(() => {
    // `npm start` runs node under a shell: the whole process group goes.
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  });

  it('is multi-stage: a build stage with every dependency, a runtime stage with production ones only, run as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(build).toBeDefined();
    expect(steps(build, 'RUN')).toEqual(expect.arrayContaining([expect.stringMatching(/^npm ci\b/), 'npm run build']));
    expect(runtime.from).toBe(build!.from);
    expect(steps(runtime, 'RUN').some((r) => /\bnpm ci --omit=dev\b/.test(r))).toBe(true);
    const user = steps(runtime, 'USER');
    expect(user).toHaveLength(1);
    expect(user[0]).not.toMatch(/^(root|0)(:|$)/);
    expect(execForm(steps(runtime, 'CMD')[0]!)).toEqual(['npm', 'start']);
    expect(steps(runtime, 'HEALTHCHECK')[0]).toContain('/health/ready');
    expect(steps(runtime, 'ENV')).toContain('NODE_ENV=production');
  });

  it('replayed: the production install starts with NODE_ENV=production and its HEALTHCHECK passes', async () => {
    app = mkdtempSync(join(tmpdir(), 'kagi-image-'));
    const npmCache = mkdtempSync(join(tmpdir(), 'kagi-image-npm-'));
    port = await freePort();
    env = {
      PATH: process.env.PATH!,
      HOME: app,
      npm_config_cache: npmCache,
      DATA_DIR: join(app, '.data'),
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: await freshDatabase('image'),
      KMS_PROVIDER: 'aws',
      KMS_KEY_ID: inject('kmsKeyId'),
      KMS_ENDPOINT: inject('kmsEndpoint'),
      AWS_REGION: inject('kmsRegion'),
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      CHAIN_RPC_URL: inject('rpcUrl'),
      CHAIN_ID: String(inject('chainId')),
      JWT_SIGNING_KEY: `jwt-${randomBytes(24).toString('hex')}`,
      PLATFORM_ADMIN_LOGIN_ID: 'image-admin',
      PLATFORM_ADMIN_PASSWORD: `admin-${randomBytes(12).toString('hex')}`,
      GOVERNANCE_SIGNER: 'external',
      GOVERNANCE_ADDRESS: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
      SMTP_URL: 'smtp://127.0.0.1:9',
      LOG_LEVEL: 'warn',
    };
    for (const { op, args } of runtime.steps) {
      if (op === 'ENV') {
        const [k, ...v] = args.split('=');
        env[k!] = v.join('=');
      } else if (op === 'COPY') {
        const parts = args.split(/\s+/);
        const fromStage = parts[0]!.startsWith('--from=') ? parts.shift() : undefined;
        const dest = parts.pop()!;
        for (const src of parts) {
          // The build stage's /app is this checkout after `npm ci` and `npm run build` (done above).
          const source = join(root, fromStage ? src.replace(/^\/app\/?/, '') : src);
          const target = dest.endsWith('/') ? join(app, dest, src.split('/').pop()!) : join(app, dest);
          cpSync(source, target, { recursive: true });
        }
      } else if (op === 'RUN') {
        const r = spawnSync('sh', ['-c', args], { cwd: app, env, encoding: 'utf8', timeout: 300_000 });
        expect(r.status, `${args}\n${r.stdout}\n${r.stderr}`).toBe(0);
      }
    }
    // Dev-only packages are absent: the runtime cannot lean on them.
    expect(spawnSync('node', ['-e', 'require.resolve("vitest")'], { cwd: app }).status).not.toBe(0);
    const [cmd, ...cmdArgs] = execForm(steps(runtime, 'CMD')[0]!);
    child = spawn(cmd!, cmdArgs, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    recordChild(child, ['container image (npm start)']);
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const [hc, ...hcArgs] = execForm(steps(runtime, 'HEALTHCHECK')[0]!.replace(/^(--\S+\s+)*CMD\s+/, ''));
    let healthy = false;
    for (let i = 0; i < 120 && !healthy; i++) {
      await new Promise((r) => setTimeout(r, 500));
      healthy = spawnSync(hc!, hcArgs, { cwd: app, env, timeout: 10_000 }).status === 0;
    }
    expect(healthy, output).toBe(true);
    const me = await fetch(`http://127.0.0.1:${port}/health/live`);
    expect(me.status).toBe(200);
  }, 420_000);
});
