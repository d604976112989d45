/**
 * The BUILT API (`node dist/src/main.js`) as a child process, as in
 * test/e2e/crash.e2e-spec.ts, but with its stdout/stderr captured line by line (across
 * restarts) so a file can look for logged 5xx and scan for key material.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface LogLine {
  incarnation: number;
  text: string;
  json?: Record<string, unknown>;
}

/** Builds once per file (SWC, about a second), so a file run on its own tests the current sources. */
export function build(root: string): void {
  execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'ignore' });
}

/** An API child still running when the test process exits is killed (a failed afterAll must not leave it behind). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export class ApiProcess {
  private child: ChildProcess | undefined;
  readonly lines: LogLine[] = [];
  incarnation = 0;
  readonly url: string;

  constructor(
    private readonly root: string,
    readonly env: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${env.PORT}`;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the API and waits until /health/ready answers 200. */
  async start(readyTimeoutMs = 60_000): Promise<number> {
    if (this.alive) throw new Error('API already running');
    const t0 = Date.now();
    this.incarnation++;
    const n = this.incarnation;
    const child = spawn(process.execPath, [join(this.root, 'dist', 'src', 'main.js')], {
      cwd: this.root,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    running.add(child);
    child.once('exit', () => running.delete(child));
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (text) => {
        let json: Record<string, unknown> | undefined;
        try {
          const v: unknown = JSON.parse(text);
          if (v && typeof v === 'object') json = v as Record<string, unknown>;
        } catch {
          /* a plain line (start-up failure) */
        }
        this.lines.push({ incarnation: n, text, json });
      });
    }
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (!this.alive) throw new Error(`API exited at start: ${this.tail(5)}`);
      const status = await fetch(`${this.url}/health/ready`, { signal: AbortSignal.timeout(5_000) }).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return Date.now() - t0;
      if (Date.now() > deadline) throw new Error(`API not ready within ${readyTimeoutMs} ms: ${this.tail(5)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** kill -9: no shutdown hooks, in-flight requests and database transactions cut. */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Graceful stop (SIGTERM), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
    await this.signal('SIGTERM');
    clearTimeout(timer);
  }

  /** Stops the API and removes its DATA_DIR. */
  async destroy(): Promise<void> {
    await this.stop();
    if (this.env.DATA_DIR) rmSync(this.env.DATA_DIR, { recursive: true, force: true });
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const c = this.child;
    if (!c || !this.alive) return;
    const exited = new Promise<void>((res) => c.once('exit', () => res()));
    c.kill(sig);
    await exited;
  }

  tail(n: number): string {
    return this.lines
      .slice(-n)
      .map((l) => l.text.slice(0, 300))
      .join(' | ');
  }

  /** Logged 500s: a problem logged with code INTERNAL, a response line with status 500, a fatal line, or a crash outside the logger. */
  internalErrors(): LogLine[] {
    return this.lines.filter((l) => {
      const j = l.json;
      if (!j) return /kagi failed to start|Unhandled|TypeError|ReferenceError|RangeError/.test(l.text);
      const res = j.res as { statusCode?: unknown } | undefined;
      return j.code === 'INTERNAL' || res?.statusCode === 500 || (typeof j.level === 'number' && j.level >= 60);
    });
  }

  /** Response lines with a 5xx status (503s included), by status. */
  logged5xx(): Map<number, number> {
    const m = new Map<number, number>();
    for (const l of this.lines) {
      const s = (l.json?.res as { statusCode?: unknown } | undefined)?.statusCode;
      if (typeof s === 'number' && s >= 500) m.set(s, (m.get(s) ?? 0) + 1);
    }
    return m;
  }

  text(): string {
    return this.lines.map((l) => l.text).join('\n');
  }
}
