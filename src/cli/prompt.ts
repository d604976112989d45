/**
 * Reads answers from the terminal (secrets without echo) or, when stdin is not a TTY,
 * one line per question from stdin. Secrets never come from argv (visible in `ps`).
 */
import { createInterface } from 'node:readline';

let pipedLines: string[] | undefined;
let pipedDone: Promise<void> | undefined;

async function readPiped(): Promise<string[]> {
  if (!pipedDone) {
    pipedLines = [];
    pipedDone = new Promise((res) => {
      const rl = createInterface({ input: process.stdin, terminal: false });
      rl.on('line', (l) => pipedLines?.push(l));
      rl.on('close', () => res());
    });
  }
  await pipedDone;
  return pipedLines ?? [];
}

export async function ask(question: string, opts: { secret?: boolean } = {}): Promise<string> {
  if (!process.stdin.isTTY) {
    const lines = await readPiped();
    const v = lines.shift();
    if (v === undefined) throw new Error(`no answer on stdin for: ${question.trim()}`);
    return v;
  }
  return new Promise((res) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (opts.secret) {
      const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput.bind(rl);
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        write(s.startsWith(question) ? question : '');
      };
    }
    rl.question(question, (answer) => {
      rl.close();
      if (opts.secret) process.stderr.write('\n');
      res(answer);
    });
  });
}
