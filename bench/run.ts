/**
 * `npm run bench [-- suite ...]`: runs the named suites (all when none), prints a table
 * per suite and writes bench/results/<suite>.json. Suites register in SUITES.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BenchRow {
  [column: string]: string | number | boolean | null;
}

export interface BenchResult {
  suite: string;
  startedAt: string;
  machine: { cpus: number; node: string; platform: string };
  settings: Record<string, unknown>;
  rows: BenchRow[];
  notes?: string[];
}

export type Suite = () => Promise<Omit<BenchResult, 'suite' | 'startedAt' | 'machine'>>;

const SUITES: Record<string, () => Promise<Suite>> = {
  // Suites are loaded lazily so one suite's dependencies never slow another.
};

export function registerSuite(name: string, load: () => Promise<Suite>): void {
  SUITES[name] = load;
}

export function printTable(rows: BenchRow[]): void {
  if (!rows.length) return;
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: BenchRow[string] | undefined) =>
    v === undefined ? '' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => '| ' + vals.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ') + ' |';
  process.stdout.write(line(cols) + '\n' + '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|\n');
  for (const r of rows) process.stdout.write(line(cols.map((c) => cell(r[c]))) + '\n');
}

async function main(): Promise<void> {
  const { loadSuites } = await import('./suites');
  loadSuites();
  // Suite names are the bare words; `--flag value` pairs belong to the suites.
  const argv = process.argv.slice(2);
  const wanted = argv.filter((a, i) => !a.startsWith('-') && !(argv[i - 1] ?? '').startsWith('--'));
  const names = wanted.length ? wanted : Object.keys(SUITES);
  const unknown = names.filter((n) => !SUITES[n]);
  if (unknown.length) {
    process.stderr.write(`unknown bench suite(s): ${unknown.join(', ')}; known: ${Object.keys(SUITES).join(', ') || '(none)'}\n`);
    process.exit(2);
  }
  const dir = join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  for (const name of names) {
    const load = SUITES[name];
    if (!load) continue;
    process.stdout.write(`\n## ${name}\n`);
    const suite = await load();
    const startedAt = new Date().toISOString();
    const out = await suite();
    const result: BenchResult = {
      suite: name,
      startedAt,
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` },
      ...out,
    };
    printTable(result.rows);
    for (const n of result.notes ?? []) process.stdout.write(`note: ${n}\n`);
    writeFileSync(join(dir, `${name}.json`), JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(`wrote bench/results/${name}.json\n`);
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
