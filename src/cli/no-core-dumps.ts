/**
 * No core dump may hold a key. Node has no setrlimit, so before anything else is loaded
 * (this module is main.ts's first import) `wallet:issue` lowers its own RLIMIT_CORE to
 * 0:0 with util-linux `prlimit` (a process may lower its own limits without privileges;
 * `ulimit -c 0` in the shell does the same), and refuses to go on when the soft limit is
 * still not 0. The hard limit 0 keeps anything loaded later from raising it again.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The soft and hard RLIMIT_CORE of this process from /proc/self/limits ('unlimited' → Infinity). */
function coreLimit(): [number, number] | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max core file size'));
    const [soft, hard] = (line?.slice('Max core file size'.length).trim().split(/\s+/) ?? []).map((v) =>
      v === 'unlimited' ? Infinity : Number(v),
    );
    return soft === undefined || hard === undefined ? undefined : [soft, hard];
  } catch {
    return undefined;
  }
}

function forbidCoreDumps(): void {
  const before = coreLimit();
  if (before?.[0] === 0 && before[1] === 0) return;
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), '--core=0:0'], { stdio: 'ignore' });
  } catch {
    /* checked below */
  }
  if (coreLimit()?.[0] !== 0) {
    process.stderr.write('config: RLIMIT_CORE is not 0 and prlimit could not lower it: run under `ulimit -c 0`; nothing was issued\n');
    process.exit(1);
  }
}

if (process.argv[2] === 'wallet:issue') forbidCoreDumps();
