/**
 * Vitest's default order, except that the secret sweep runs after every other e2e file
 * (all e2e files run one after another in one fork, in this order). It also writes the
 * e2e files of the run to the recording dir, so the sweep can check that each of them
 * had ended before it started, instead of trusting this ordering.
 */
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { RECORD_DIR_ENV } from './recording';

export const SWEEP_FILE = 'secret-sweep.e2e-spec.ts';

export class SweepLastSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isSweep = (f: TestSpecification) => basename(f.moduleId) === SWEEP_FILE;
    const ordered = [...sorted.filter((f) => !isSweep(f)), ...sorted.filter(isSweep)];
    const dir = process.env[RECORD_DIR_ENV];
    if (dir) {
      const e2e = ordered.filter((f) => f.project.name === 'e2e').map((f) => basename(f.moduleId));
      writeFileSync(join(dir, 'e2e-files.json'), JSON.stringify(e2e));
    }
    return ordered;
  }
}
