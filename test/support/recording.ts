/**
 * The e2e run's recording of everything the secret sweep (test/e2e/secret-sweep.e2e-spec.ts)
 * scans besides the database and the temp dirs: every HTTP answer a test receives
 * (record-http.ts wraps fetch), every captured app log line (test/support/app.ts), the
 * output of every child process a test spawns (recordChild), and the service logs
 * (global-setup.ts). One directory per run, outside the run's temp dir, deleted by the
 * global teardown. Without KAGI_E2E_RECORD_DIR (a unit run) every call is a no-op.
 *
 * Files: `<pid>.http.jsonl` (one answer a line, body base64), `<pid>.log` (app log lines),
 * `child-<pid>-<n>.json` (argv, stdout, stderr), `service-<name>.log`, `marker-*.json`.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ChildProcess } from 'node:child_process';

export const RECORD_DIR_ENV = 'KAGI_E2E_RECORD_DIR';
export const RUN_TMP_ENV = 'KAGI_E2E_RUN_TMP';

export function recordDir(): string | undefined {
  return process.env[RECORD_DIR_ENV] || undefined;
}

const pending = new Set<Promise<void>>();

let current = 'unknown';

/** Set by record-http.ts for every test file: labels what is recorded. */
export function setCurrentFile(path: string | undefined): void {
  current = path ? basename(path) : 'unknown';
}

function currentFile(): string {
  return current;
}

export interface RecordedAnswer {
  file: string;
  method: string;
  url: string;
  status: number;
  headers: Record<string, string>;
  /** base64 of the body bytes as received. */
  body: string;
}

export function recordAnswer(a: Omit<RecordedAnswer, 'file' | 'body'> & { body: Uint8Array }): void {
  const dir = recordDir();
  if (!dir) return;
  const line: RecordedAnswer = { ...a, file: currentFile(), body: Buffer.from(a.body).toString('base64') };
  appendFileSync(join(dir, `${process.pid}.http.jsonl`), JSON.stringify(line) + '\n');
}

export function recordLogLines(lines: string[]): void {
  const dir = recordDir();
  if (!dir || !lines.length) return;
  appendFileSync(join(dir, `${process.pid}.log`), lines.join('\n') + '\n');
}

/** Keeps a promise that writes a recording, so afterAll can wait for it (flushRecordings). */
export function track(p: Promise<void>): void {
  const q = p.catch(() => undefined).finally(() => pending.delete(q));
  pending.add(q);
}

export async function flushRecordings(): Promise<void> {
  while (pending.size) await Promise.all([...pending]);
}

export interface RecordedChild {
  file: string;
  argv: string[];
  stdout: string;
  stderr: string;
}

/**
 * Records what a spawned child (API, CLI, supervisor) prints on its piped stdout/stderr.
 * `--display` output of the CLI carries an investor key by design: the sweep learns it from
 * there and exempts exactly that key in exactly that stdout.
 */
export function recordChild(child: ChildProcess, argv: string[]): void {
  const dir = recordDir();
  if (!dir) return;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(d));
  child.stderr?.on('data', (d: Buffer) => err.push(d));
  const file = currentFile();
  const name = join(dir, `child-${process.pid}-${randomUUID()}.json`);
  track(
    new Promise<void>((res) => {
      const write = () => {
        const rec: RecordedChild = {
          file,
          argv,
          stdout: Buffer.concat(out).toString('base64'),
          stderr: Buffer.concat(err).toString('base64'),
        };
        writeFileSync(name, JSON.stringify(rec));
        res();
      };
      if (child.exitCode !== null || child.signalCode !== null) write();
      else child.once('close', write);
    }),
  );
}

/** Service output (PostgreSQL, moto, Anvil), appended as it comes (global setup, main process). */
export function recordService(name: string, stream: NodeJS.ReadableStream | null | undefined, dir: string): void {
  stream?.on('data', (d: Buffer) => appendFileSync(join(dir, `service-${name}.log`), d));
}

/** Which test files started and ended, so the sweep can prove it ran after all others. */
export function writeMarker(kind: 'start' | 'end', file: string): void {
  const dir = recordDir();
  if (!dir) return;
  writeFileSync(join(dir, `marker-${kind}-${basename(file)}.json`), JSON.stringify({ file: basename(file), at: new Date().toISOString() }));
}

export function markers(dir: string, kind: 'start' | 'end'): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(`marker-${kind}-`))
    .map((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { file: string }).file);
}
