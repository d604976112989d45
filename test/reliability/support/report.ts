/** The one-line summary per fault that goes in the README, and the log checks every file ends with. */
import { findSecrets } from '../../support/secrets';
import type { ApiProcess } from './api-process';
import type { Recorder } from './client';

export function summary(
  fault: string,
  f: {
    profile: string;
    seed: number;
    faults: number;
    survived: number;
    rec: Recorder;
    accepted: number;
    extra?: string;
    startedAt: number;
  },
): string {
  const line = `[faults] ${fault}: profile=${f.profile} seed=${f.seed} faults=${f.faults} survived=${f.survived} accepted=${f.accepted} ${f.rec.summary()}${f.extra ? ` ${f.extra}` : ''} time=${((Date.now() - f.startedAt) / 1000).toFixed(1)}s`;
  console.log(line);
  return line;
}

/** Logged 500s (with their lines) and key material anywhere in the API's output or in an error body. */
export function logFindings(api: ApiProcess, rec: Recorder, secrets: Uint8Array[]): string[] {
  const out: string[] = [];
  for (const l of api.internalErrors().slice(0, 20)) out.push(`logged 500 / crash (API run ${l.incarnation}): ${l.text.slice(0, 400)}`);
  for (const hit of findSecrets(api.text(), secrets)) out.push(`API log: ${hit}`);
  for (const hit of findSecrets(rec.errorTexts.join('\n'), secrets)) out.push(`error body: ${hit}`);
  return out;
}

/** Prints how long each step of a fault took (stderr, so it shows while the test runs). */
export function timeline(fault: string): (step: string) => void {
  const t0 = Date.now();
  let last = t0;
  return (step) => {
    const now = Date.now();
    process.stderr.write(`[faults] ${fault} +${((now - t0) / 1000).toFixed(1)}s (${((now - last) / 1000).toFixed(1)}s) ${step}\n`);
    last = now;
  };
}
