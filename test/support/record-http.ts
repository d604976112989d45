/**
 * e2e setupFiles entry: records every HTTP answer a test receives through fetch (status,
 * headers, body bytes) for the secret sweep, and marks when each test file starts and
 * ends. The answers of the chain node are not recorded: the app's own viem client polls
 * it all the time, and those are answers the app receives, not the tests.
 */
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { flushRecordings, recordAnswer, recordDir, setCurrentFile, track, writeMarker } from './recording';

const ORIGINAL = Symbol.for('kagi.e2e.original-fetch');
const g = globalThis as typeof globalThis & { [ORIGINAL]?: typeof fetch };
const testPath = expect.getState().testPath ?? 'unknown';
setCurrentFile(testPath);

if (recordDir()) {
  // All e2e files share one process (singleFork) but not one module graph: wrap the
  // original fetch again for every file, so this file's recorder owns the pending writes.
  const original = (g[ORIGINAL] ??= globalThis.fetch);
  const chainOrigin = new URL(inject('rpcUrl')).origin;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const res = await original(input, init);
    const url = input instanceof Request ? input.url : String(input);
    if (url.startsWith(chainOrigin)) return res;
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const copy = res.clone();
    track(
      copy
        .arrayBuffer()
        .then((body) =>
          recordAnswer({ method, url, status: res.status, headers: Object.fromEntries(res.headers.entries()), body: new Uint8Array(body) }),
        ),
    );
    return res;
  };
}

beforeAll(() => writeMarker('start', testPath));
afterAll(async () => {
  await flushRecordings();
  writeMarker('end', testPath);
});
