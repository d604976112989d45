/** The secure-room CLI (wallet:issue), run as a separate process against the test database. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { privateKeyToAddress } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { inject } from 'vitest';
import { createTestApp, http, testEnv, type TestApp } from '../support/app';
import { ADMIN, adminToken, createOperator, type OperatorFixture } from '../support/api';
import { startFakePrinter } from '../support/fake-printer';
import { fakeSystemRoot } from '../support/fake-sysfs';
import { pdfText, printedPrivateKey } from '../support/pdf';
import { pdfOpenError, pdfTextWithPassword } from '../support/pdf-encrypted';
import { recordChild } from '../support/recording';
import { findSecrets } from '../support/secrets';

const root = process.cwd();
// Timeouts: each CLI run boots Nest and logs in, 10-20 s on a loaded 2-core machine.
const LOGIN = `${ADMIN.loginId}\n${ADMIN.password}\n`;
const PDF_PASSWORD = 'vault-door-4711-sakura';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(
  args: string[],
  stdin: string,
  opts: { cwd?: string; env?: Record<string, string>; beforeInput?: (child: ChildProcess) => Promise<void> } = {},
): Promise<CliRun> {
  return new Promise((res) => {
    const env = {
      ...process.env,
      ...testEnv({ LOG_LEVEL: 'error', ...opts.env }),
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    } as NodeJS.ProcessEnv;
    const child = spawn(process.execPath, [join(root, 'dist', 'src', 'cli', 'main.js'), ...args], {
      cwd: opts.cwd ?? root,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    recordChild(child, ['cli', ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => res({ code, stdout, stderr }));
    void (opts.beforeInput ? opts.beforeInput(child) : Promise.resolve()).finally(() => child.stdin.end(stdin));
  });
}

/** A TCP listener that counts connections and drops them: standing in for a chain node or SMTP server that must never be contacted. */
async function tripwire(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server: Server = createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { port, connections: () => n, close: () => new Promise((r) => server.close(() => r())) };
}

function coreLimitOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/limits`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max core file size'))
      ?.replace(/\s+/g, ' ')
      .trim();
  } catch {
    return undefined;
  }
}

function filesNewerThan(dir: string, since: number, depth = 2): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const p = join(dir, name);
    try {
      const st = statSync(p);
      if (st.isDirectory() && depth > 0) out.push(...filesNewerThan(p, since, depth - 1));
      else if (st.isFile() && st.mtimeMs >= since && st.size < 5_000_000) out.push(p);
    } catch {
      /* vanished */
    }
  }
  return out;
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
  const usbStick = () => {
    const out = mkdtempSync(join(tmpdir(), 'kagi-usb-'));
    return { out, sysroot: fakeSystemRoot(out, 'usb-stick') };
  };
  const media = async (id: string) => (await http(t.url, 'GET', `/v1/users/${id}/wallet-media`, { token: admin })).body.items as any[];
  const status = async (id: string) => (await http(t.url, 'GET', `/v1/users/${id}`, { token: op.token })).body.walletStatus;

  it('--out writes <userId>-<address>.pdf with mode 0600 to a USB stick, then stores only the address and a file medium; the admin is the actor', async () => {
    const id = await newUser();
    const { out, sysroot } = usbStick();
    const r = await cli(['wallet:issue', '--user', id, '--out', out, '--system-root', sysroot], LOGIN);
    expect(r.code, r.stderr).toBe(0);
    const [file] = readdirSync(out);
    expect(file).toMatch(new RegExp(`^${id}-0x[0-9a-fA-F]{40}\\.pdf$`));
    expect(statSync(join(out, file!)).mode & 0o777).toBe(0o600);
    const address = file!.slice(id.length + 1, -4);
    const text = await pdfText(readFileSync(join(out, file!)));
    const key = printedPrivateKey(text);
    expect(privateKeyToAddress(key)).toBe(address);
    expect((await http(t.url, 'GET', `/v1/users/${id}`, { token: op.token })).body.walletAddress).toBe(address);
    const [medium, ...rest] = await media(id);
    expect(rest).toEqual([]);
    expect(medium).toMatchObject({ address, kind: 'file', status: 'issued' });
    expect(text).toContain(medium.mediumId);
    expect(r.stdout).toContain(medium.mediumId);
    const audit = await http(t.url, 'GET', '/v1/audit-events?action=wallet.issue', { token: admin });
    const ev = audit.body.items.find((e: any) => e.subject.id === id);
    expect(ev).toMatchObject({ actor: { type: 'cli' }, details: { address, channel: 'secure-room-cli' } });
    expect(r.stdout + r.stderr).not.toContain(key.slice(2));
  }, 120_000);

  it('refuses a missing or unwritable --out before any key exists', async () => {
    const id = await newUser();
    const missing = await cli(['wallet:issue', '--user', id, '--out', join(tmpdir(), 'kagi-no-such-dir')], LOGIN);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('not a writable directory');
    const notADir = await cli(['wallet:issue', '--user', id, '--out', join(root, 'package.json')], LOGIN);
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
      const unwritable = await cli(['wallet:issue', '--user', id, '--out', ro], LOGIN);
      expect(unwritable.code).not.toBe(0);
    }
    expect(await status(id)).toBe('pending');
  }, 60_000);

  it('refuses --out on a fixed disk (this machine, a fake SATA disk) unless --allow-fixed-media (development)', async () => {
    const id = await newUser();
    const out = mkdtempSync(join(tmpdir(), 'kagi-fixed-'));
    const real = await cli(['wallet:issue', '--user', id, '--out', out], LOGIN);
    expect(real.code).not.toBe(0);
    expect(real.stderr).toContain('is not on removable media');
    const sata = await cli(['wallet:issue', '--user', id, '--out', out, '--system-root', fakeSystemRoot(out, 'sata-disk')], LOGIN);
    expect(sata.code).not.toBe(0);
    expect(sata.stderr).toMatch(/not on removable media .*disk sda not flagged removable/);
    expect(readdirSync(out)).toEqual([]);
    expect(await status(id)).toBe('pending');
    expect(await media(id)).toEqual([]);
    const allowed = await cli(['wallet:issue', '--user', id, '--out', out, '--allow-fixed-media'], LOGIN);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toContain('warning: --allow-fixed-media');
    expect(readdirSync(out)).toHaveLength(1);
    // An SD card counts as removable.
    const id2 = await newUser();
    const sd = mkdtempSync(join(tmpdir(), 'kagi-sd-'));
    const onSd = await cli(['wallet:issue', '--user', id2, '--out', sd, '--system-root', fakeSystemRoot(sd, 'sd-card')], LOGIN);
    expect(onSd.code, onSd.stderr).toBe(0);
  }, 180_000);

  it('refuses a wrong admin password and leaves the user pending', async () => {
    const id = await newUser();
    const { out, sysroot } = usbStick();
    const r = await cli(['wallet:issue', '--user', id, '--out', out, '--system-root', sysroot], `${ADMIN.loginId}\nnot-the-password\n`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/login id or the password is wrong/);
    expect(readdirSync(out)).toEqual([]);
    expect(await status(id)).toBe('pending');
  }, 60_000);

  it('--display shows the key on the alternate screen, clears screen and scrollback, and writes no file', async () => {
    const id = await newUser();
    const cwd = mkdtempSync(join(tmpdir(), 'kagi-display-'));
    const r = await cli(['wallet:issue', '--user', id, '--display'], `${LOGIN}\n`, { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('\x1b[?1049h');
    expect(r.stdout).toContain('\x1b[3J');
    expect(r.stdout.lastIndexOf('\x1b[?1049l')).toBeGreaterThan(r.stdout.indexOf('PRIVATE KEY'));
    const key = /0x[0-9a-f]{64}/.exec(r.stdout)?.[0] as `0x${string}`;
    const address = (await http(t.url, 'GET', `/v1/users/${id}`, { token: op.token })).body.walletAddress;
    expect(privateKeyToAddress(key)).toBe(address);
    expect(readdirSync(cwd)).toEqual([]);
    expect(existsSync(join(root, `${id}-${address}.pdf`))).toBe(false);
    const [medium] = await media(id);
    expect(medium).toMatchObject({ kind: 'display', status: 'issued', address });
    expect(r.stdout).toContain(`Medium ID: ${medium.mediumId}`);
  }, 60_000);

  it('one run with --display --out --pdf-password --print: the same key on screen, in an AES-256 PDF and on the printed sheet; chain and SMTP never contacted; no core dumps; nothing in temp', async () => {
    const id = await newUser();
    const { out, sysroot } = usbStick();
    const printer = await startFakePrinter();
    const chain = await tripwire();
    const smtp = await tripwire();
    const childTmp = mkdtempSync(join(tmpdir(), 'kagi-cli-tmp-'));
    const started = Date.now();
    let core: string | undefined;
    try {
      const r = await cli(
        ['wallet:issue', '--user', id, '--display', '--out', out, '--pdf-password', '--print', printer.uri, '--system-root', sysroot],
        `${LOGIN}${PDF_PASSWORD}\n${PDF_PASSWORD}\n\n`,
        {
          env: { CHAIN_RPC_URL: `http://127.0.0.1:${chain.port}`, SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, TMPDIR: childTmp },
          beforeInput: async (child) => {
            // The CLI lowers its own RLIMIT_CORE to 0 at start, before any key exists.
            for (let i = 0; i < 600 && core !== 'Max core file size 0 0 bytes'; i++) {
              await new Promise((r) => setTimeout(r, 100));
              core = coreLimitOf(child.pid!);
            }
          },
        },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(core).toBe('Max core file size 0 0 bytes');
      expect(chain.connections()).toBe(0);
      expect(smtp.connections()).toBe(0);

      // Display first: the key on the alternate screen.
      const shown = /0x[0-9a-f]{64}/.exec(r.stdout)?.[0] as `0x${string}`;
      const address = privateKeyToAddress(shown);
      expect((await http(t.url, 'GET', `/v1/users/${id}`, { token: op.token })).body.walletAddress).toBe(address);
      const items = await media(id);
      expect(items.map((m) => m.kind)).toEqual(['display', 'file', 'paper']);
      for (const m of items) expect(m).toMatchObject({ address, status: 'issued', events: [] });
      const [display, file, paper] = items;
      expect(r.stdout).toContain(`Medium ID: ${display.mediumId}`);

      // The file: 0600, AES-256, opens only with the password, holds the same key and its medium id.
      const [name] = readdirSync(out);
      const pdf = readFileSync(join(out, name!));
      expect(statSync(join(out, name!)).mode & 0o777).toBe(0o600);
      expect(pdf.toString('latin1')).toMatch(/\/Filter \/Standard[\s\S]*\/V 5/);
      expect(await pdfOpenError(pdf)).toBe('PasswordException');
      expect(await pdfOpenError(pdf, 'not-the-password')).toBe('PasswordException');
      const fileText = await pdfTextWithPassword(pdf, PDF_PASSWORD);
      expect(printedPrivateKey(fileText)).toBe(shown);
      expect(fileText).toContain(file.mediumId);

      // The printer: checked first (Get-Printer-Attributes), then one Print-Job with the PDF;
      // the job name and every request attribute carry no user data.
      expect(printer.received.map((q) => q.operation)).toEqual([0x000b, 0x0002]);
      const [job] = printer.jobs();
      expect(job!.attributes.get('document-format')).toEqual(['application/pdf']);
      expect(job!.attributes.get('job-name')).toEqual(['kagi']);
      const attrs = JSON.stringify([...job!.attributes.entries()]);
      for (const s of [id, '金庫', address, paper.mediumId]) expect(attrs).not.toContain(s);
      const sheet = await pdfText(job!.document);
      expect(sheet).toContain(address);
      expect(sheet).toContain(paper.mediumId);
      expect(sheet).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} JST/);
      expect(printedPrivateKey(sheet)).toBe(shown);

      // Sweep: no admin or PDF password in the printer's capture; no key, no password in
      // the CLI's temp dir (empty), in new temp files or in a spool directory.
      const capture = Buffer.concat(printer.received.map((q) => q.raw)).toString('latin1');
      expect(capture).not.toContain(ADMIN.password);
      expect(capture).not.toContain(PDF_PASSWORD);
      expect(readdirSync(childTmp)).toEqual([]);
      const key = [Buffer.from(shown.slice(2), 'hex')];
      const swept = [...filesNewerThan(tmpdir(), started), ...filesNewerThan('/var/spool', started, 3)]
        .filter((f) => !f.startsWith(out))
        .map((f) => readFileSync(f).toString('latin1'))
        .join('\n');
      expect(findSecrets(swept, key)).toEqual([]);
      expect(swept).not.toContain(PDF_PASSWORD);
      expect(r.stderr).not.toContain(shown.slice(2));
    } finally {
      await Promise.all([printer.close(), chain.close(), smtp.close()]);
    }
  }, 90_000);

  it('a printer that does not take PDF: refused before the key exists; nothing stored, nothing printed', async () => {
    const id = await newUser();
    const { out, sysroot } = usbStick();
    const printer = await startFakePrinter({ formats: ['image/pwg-raster', 'image/urf'] });
    const stopped = await startFakePrinter({ accepting: false });
    try {
      // A wrong admin password on stdin: the answer names the printer, so the refusal came
      // before the login (and before the key, which comes after the login).
      const r = await cli(
        ['wallet:issue', '--user', id, '--out', out, '--system-root', sysroot, '--print', printer.uri],
        `${ADMIN.loginId}\nnot-the-password\n`,
      );
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('does not take application/pdf');
      expect(r.stderr).toContain('nothing was issued');
      expect(r.stderr).not.toContain('password is wrong');
      const s = await cli(['wallet:issue', '--user', id, '--print', stopped.uri], LOGIN);
      expect(s.stderr).toContain('not accepting jobs');
      expect(printer.received.map((q) => q.operation)).toEqual([0x000b]);
      expect(stopped.jobs()).toEqual([]);
      expect(readdirSync(out)).toEqual([]);
      expect(await status(id)).toBe('pending');
      expect(await media(id)).toEqual([]);
      // PDF passwords that differ: refused after the login, still before the key.
      const differ = await cli(
        ['wallet:issue', '--user', id, '--out', out, '--system-root', sysroot, '--pdf-password'],
        `${LOGIN}${PDF_PASSWORD}\n${PDF_PASSWORD}x\n`,
      );
      expect(differ.stderr).toContain('the two PDF passwords differ; nothing was issued');
      const closed = await cli(['wallet:issue', '--user', id, '--print', 'ipp://127.0.0.1:1/ipp/print'], LOGIN);
      expect(closed.stderr).toMatch(/not reachable .*nothing was issued/);
      const remote = await cli(['wallet:issue', '--user', id, '--print', 'ipp://192.0.2.10/ipp/print'], LOGIN);
      expect(remote.stderr).toContain('plain IPP only to loopback');
      expect(await status(id)).toBe('pending');
    } finally {
      await Promise.all([printer.close(), stopped.close()]);
    }
  }, 180_000);

  it('a sheet that may have printed (the printer dropped the job after receiving it): the file is removed, nothing issued, the sheet recorded void', async () => {
    const id = await newUser();
    const { out, sysroot } = usbStick();
    const printer = await startFakePrinter({ dropAfterDocument: true });
    try {
      const r = await cli(['wallet:issue', '--user', id, '--out', out, '--system-root', sysroot, '--print', printer.uri], LOGIN);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('nothing was issued');
      expect(r.stderr).toContain('a sheet may have printed');
      expect(printer.jobs()).toHaveLength(1);
      expect(readdirSync(out)).toEqual([]);
      expect(await status(id)).toBe('pending');
      const items = await media(id);
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({ kind: 'paper', status: 'void' });
      expect(await pdfText(printer.jobs()[0]!.document)).toContain(items[0].mediumId);
      const audit = await http(t.url, 'GET', '/v1/audit-events?action=wallet.medium.void', { token: admin });
      expect(audit.body.items.find((e: any) => e.subject.id === id)).toMatchObject({ outcome: 'failure' });
    } finally {
      await printer.close();
    }
  }, 60_000);

  it('ipps:// prints only to the printer whose certificate matches --printer-fingerprint', async () => {
    const id = await newUser();
    const printer = await startFakePrinter({ tls: true });
    try {
      const none = await cli(['wallet:issue', '--user', id, '--print', printer.uri], LOGIN);
      expect(none.stderr).toContain('needs --printer-fingerprint');
      const wrong = await cli(['wallet:issue', '--user', id, '--print', printer.uri, '--printer-fingerprint', 'AB'.repeat(32)], LOGIN);
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toContain('not the pinned one');
      expect(printer.received).toEqual([]);
      expect(await status(id)).toBe('pending');
      const pinned = await cli(
        ['wallet:issue', '--user', id, '--print', printer.uri, '--printer-fingerprint', printer.fingerprint!],
        LOGIN,
      );
      expect(pinned.code, pinned.stderr).toBe(0);
      const [medium] = await media(id);
      expect(medium).toMatchObject({ kind: 'paper', status: 'issued' });
      expect(await pdfText(printer.jobs()[0]!.document)).toContain(medium.mediumId);
    } finally {
      await printer.close();
    }
  }, 120_000);

  it('runs with the restricted kagi_secure_room database role: issues and reissues, and may not touch anything else', async () => {
    const role = `kagi_sr_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    const su = new Client({ connectionString: inject('databaseUrl') });
    await su.connect();
    const restricted = new URL(inject('databaseUrl'));
    restricted.username = role;
    restricted.password = password;
    const asRole = new Client({ connectionString: restricted.toString() });
    try {
      await su.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' IN ROLE kagi_secure_room`);
      const id = await newUser();
      const { out, sysroot } = usbStick();
      const smtp = await tripwire();
      // With ops recipients, a reissue also queues mail (the API sends it; the CLI never connects).
      const env = { DATABASE_URL: restricted.toString(), SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, OPS_NOTIFY_EMAILS: 'ops@example.jp' };
      const first = await cli(['wallet:issue', '--user', id, '--out', out, '--system-root', sysroot], LOGIN, { env });
      expect(first.code, first.stderr).toBe(0);
      const again = await cli(
        ['wallet:issue', '--user', id, '--out', out, '--system-root', sysroot, '--reissue', '--reason', 'sheet lost in a flood'],
        LOGIN,
        { env },
      );
      expect(again.code, again.stderr).toBe(0);
      const user = (await http(t.url, 'GET', `/v1/users/${id}`, { token: op.token })).body;
      expect(user.previousWalletAddresses).toHaveLength(1);
      expect((await media(id)).map((m) => m.status)).toEqual(['issued', 'issued']);
      const queued = await su.query<{ n: number }>(`SELECT count(*)::int AS n FROM mail_outbox WHERE body LIKE '%' || $1 || '%'`, [id]);
      expect(queued.rows[0]!.n).toBe(1);
      expect(smtp.connections()).toBe(0);
      await smtp.close();

      await asRole.connect();
      const denied = async (sql: string) => {
        const e = await asRole.query(sql).then(
          () => undefined,
          (err: { code?: string }) => err.code,
        );
        return e;
      };
      expect(await denied(`UPDATE users SET name = 'x' WHERE id = '${id}'`)).toBe('42501');
      expect(await denied(`UPDATE users SET wallet_address = NULL WHERE id = '${id}'`)).toBeUndefined();
      expect(await denied('SELECT * FROM transactions LIMIT 1')).toBe('42501');
      expect(await denied('SELECT * FROM audit_events LIMIT 1')).toBe('42501');
      expect(await denied(`DELETE FROM users WHERE id = '${id}'`)).toBe('42501');
      expect(await denied('DELETE FROM wallet_media')).toBe('42501');
      expect(
        await denied(
          `INSERT INTO wallet_media_events (id, medium_id, kind, custodian, by_principal_id) VALUES (gen_random_uuid(), gen_random_uuid(), 'stored', 'x', gen_random_uuid())`,
        ),
      ).toBe('42501');
    } finally {
      await asRole.end().catch(() => undefined);
      await su.query(`DROP OWNED BY ${role}`).catch(() => undefined);
      await su.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
      await su.end();
    }
  }, 120_000);

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
    const first = await cli(['keys:rewrap', '--all'], '', { env: { KMS_KEY_ID: next } });
    expect(first.code, first.stderr).toBe(0);
    const moved = Number(/operator: (\d+) key/.exec(first.stdout)?.[1]);
    expect(moved).toBeGreaterThanOrEqual(before.length);
    const second = await cli(['keys:rewrap', '--all'], '', { env: { KMS_KEY_ID: next } });
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
