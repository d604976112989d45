/** Readings of processes from Linux's /proc, for the benches and the soak (USER_HZ = 100). */
import { readdirSync, readFileSync } from 'node:fs';

/** Resident set now and its high-water mark, in bytes. */
export function procStatus(pid: number | undefined): { rss: number; hwm: number } | undefined {
  if (!pid) return undefined;
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** The fields after the command name of /proc/<pid>/stat (fields[1] = ppid, [11]/[12] = utime/stime). */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone meanwhile
  }
}

/** utime + stime of `pid` in seconds. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  const f = pid ? statFields(pid) : undefined;
  return f ? (Number(f[11]) + Number(f[12])) / 100 : undefined;
}

/** CPU seconds used so far by `root` and all its descendants (PostgreSQL: the postmaster and its backends). */
export function treeCpuSeconds(root: number | undefined): number | undefined {
  if (!root || !statFields(root)) return undefined;
  const procs = new Map<number, { ppid: number; seconds: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(d);
    if (f) procs.set(Number(d), { ppid: Number(f[1]), seconds: (Number(f[11]) + Number(f[12])) / 100 });
  }
  let sum = 0;
  const walk = (pid: number) => {
    sum += procs.get(pid)?.seconds ?? 0;
    for (const [child, p] of procs) if (p.ppid === pid) walk(child);
  };
  walk(root);
  return sum;
}

/** Busy and total CPU seconds of the whole machine, from /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: (total - idle) / 100, total: total / 100 };
}
