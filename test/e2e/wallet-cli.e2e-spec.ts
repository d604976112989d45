/** The secure-room CLI (wallet:issue), run as a separate process against the test database. */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateKeyToAddress } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { inject } from 'vitest';
import { createTestApp, http, testEnv, type TestApp } from '../support/app';
import { ADMIN, adminToken, createOperator, type OperatorFixture } from '../support/api';
import { pdfText, printedPrivateKey } from '../support/pdf';
import { recordChild } from '../support/recording';

const root = process.cwd();

function cli(
  args: string[],
  stdin: string,
  cwd = root,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const env = {
      ...process.env,
      ...testEnv({ LOG_LEVEL: 'error', ...extraEnv }),
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    } as NodeJS.ProcessEnv;
    const child = spawn(process.execPath, [join(root, 'dist', 'src', 'cli', 'main.js'), ...args], {
      cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    recordChild(child, ['cli', ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => res({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe('wallet:issue (secure-room CLI)', () => {
  let t: TestApp;
  let op: OperatorFixture;
  let admin: string;

  beforeAll(async () => {
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'ignore' });
    t = await createTestApp();
    admin = await adminToken(t.url);
    op = await createOperator(t.url, admin);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  const newUser = async () =>
    (await http(t.url, 'POST', '/v1/users', { token: op.token, body: { name: '金庫 保管', email: 'vault@example.jp' } })).body.id as string;

  it('--out writes <userId>-<address>.pdf with mode 0600, then stores only the address; the admin is the actor', async () => {
    const id = await newUser();
    const out = mkdtempSync(join(tmpdir(), 'kagi-usb-'));
    const r = await cli(['wallet:issue', '--user', id, '--out', out], `${ADMIN.loginId}\n${ADMIN.password}\n`);
    expect(r.code, r.stderr).toBe(0);
    const [file] = readdirSync(out);
    expect(file).toMatch(new RegExp(`^${id}-0x[0-9a-fA-F]{40}\\.pdf$`));
    expect(statSync(join(out, file!)).mode & 0o777).toBe(0o600);
    const address = file!.slice(id.length + 1, -4);
    const key = printedPrivateKey(await pdfText(readFileSync(join(out, file!))));
    expect(privateKeyToAddress(key)).toBe(address);
    expect((await http(t.url, 'GET', `/v1/users/${id}`, { token: op.token })).body.walletAddress).toBe(address);
    const audit = await http(t.url, 'GET', '/v1/audit-events?action=wallet.issue', { token: admin });
    const ev = audit.body.items.find((e: any) => e.subject.id === id);
    expect(ev).toMatchObject({ actor: { type: 'cli' }, details: { address, channel: 'secure-room-cli' } });
    expect(r.stdout + r.stderr).not.toContain(key.slice(2));
  }, 60_000);

  it('refuses a missing or unwritable --out before any key exists', async () => {
    const id = await newUser();
    const missing = await cli(
      ['wallet:issue', '--user', id, '--out', join(tmpdir(), 'kagi-no-such-dir')],
      `${ADMIN.loginId}\n${ADMIN.password}\n`,
    );
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('not a writable directory');
    const notADir = await cli(['wallet:issue', '--user', id, '--out', join(root, 'package.json')], `${ADMIN.loginId}\n${ADMIN.password}\n`);
    expect(notADir.code).not.toBe(0);
    expect(notADir.stderr).toContain('not a writable directory');
    const ro = mkdtempSync(join(tmpdir(), 'kagi-ro-'));
    chmodSync(ro, 0o500);
    const file = join(ro, 'probe');
    // As root, permissions do not stop writes; only check the refusal when they do.
    let rootBypass = false;
    try {
      execFileSync('touch', [file]);
      rootBypass = true;
    } catch {
      /* expected for a normal user */
    }
    if (!rootBypass) {
      const unwritable = await cli(['wallet:issue', '--user', id, '--out', ro], `${ADMIN.loginId}\n${ADMIN.password}\n`);
      expect(unwritable.code).not.toBe(0);
    }
    expect((await http(t.url, 'GET', `/v1/users/${id}`, { token: op.token })).body.walletStatus).toBe('pending');
  }, 60_000);

  it('refuses a wrong admin password and leaves the user pending', async () => {
    const id = await newUser();
    const out = mkdtempSync(join(tmpdir(), 'kagi-usb-'));
    const r = await cli(['wallet:issue', '--user', id, '--out', out], `${ADMIN.loginId}\nnot-the-password\n`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/login id or the password is wrong/);
    expect(readdirSync(out)).toEqual([]);
    expect((await http(t.url, 'GET', `/v1/users/${id}`, { token: op.token })).body.walletStatus).toBe('pending');
  }, 60_000);

  it('--display shows the key on the alternate screen, clears screen and scrollback, and writes no file', async () => {
    const id = await newUser();
    const cwd = mkdtempSync(join(tmpdir(), 'kagi-display-'));
    const r = await cli(['wallet:issue', '--user', id, '--display'], `${ADMIN.loginId}\n${ADMIN.password}\n\n`, cwd);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('\x1b[?1049h');
    expect(r.stdout).toContain('\x1b[3J');
    expect(r.stdout.lastIndexOf('\x1b[?1049l')).toBeGreaterThan(r.stdout.indexOf('PRIVATE KEY'));
    const key = /0x[0-9a-f]{64}/.exec(r.stdout)?.[0] as `0x${string}`;
    const address = (await http(t.url, 'GET', `/v1/users/${id}`, { token: op.token })).body.walletAddress;
    expect(privateKeyToAddress(key)).toBe(address);
    expect(readdirSync(cwd)).toEqual([]);
    expect(existsSync(join(root, `${id}-${address}.pdf`))).toBe(false);
  }, 60_000);

  it('keys:rewrap --all moves every operator key to the new KMS key, idempotently; addresses unchanged', async () => {
    const kms = new KMSClient({
      endpoint: inject('kmsEndpoint'),
      region: inject('kmsRegion'),
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const next = (await kms.send(new CreateKeyCommand({ Description: 'kagi rotation target' }))).KeyMetadata!.Arn!;
    kms.destroy();
    const before = (await http(t.url, 'GET', '/v1/operators?limit=100', { token: admin })).body.items as Array<{
      id: string;
      signerAddress: string;
    }>;
    const first = await cli(['keys:rewrap', '--all'], '', root, { KMS_KEY_ID: next });
    expect(first.code, first.stderr).toBe(0);
    const moved = Number(/operator: (\d+) key/.exec(first.stdout)?.[1]);
    expect(moved).toBeGreaterThanOrEqual(before.length);
    const second = await cli(['keys:rewrap', '--all'], '', root, { KMS_KEY_ID: next });
    expect(second.stdout).toContain('operator: 0 key(s) re-wrapped');
    const after = (await http(t.url, 'GET', '/v1/operators?limit=100', { token: admin })).body.items as Array<{
      id: string;
      signerAddress: string;
    }>;
    for (const o of before) expect(after.find((a) => a.id === o.id)?.signerAddress).toBe(o.signerAddress);
    // The operator key still opens (under the new master key) for a signing-path rewrap check.
    const again = await http(t.url, 'POST', `/v1/operators/${op.id}/key-rewrap`, { token: admin });
    expect(again.status).toBe(200);
  }, 90_000);
});
