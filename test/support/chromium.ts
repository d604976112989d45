/**
 * Debian's Chromium for the Swagger UI browser test (test/e2e/swagger-ui.e2e-spec.ts), provisioned
 * by the e2e global setup the way moto is: when /usr/bin/chromium is missing and we are root on a
 * Debian-like system, `apt-get update` + `apt-get install chromium` once (quietly, one log line).
 * Where that is impossible the browser test fails with one line saying what to install; the other
 * e2e files do not need a browser and still run.
 *
 * Why Debian's package and not a browser from npm: playwright-core downloads its browsers from a
 * CDN outside the npm registry, which this project's machines cannot reach; apt can.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { isRoot } from '../../dev/processes';

export const CHROMIUM = '/usr/bin/chromium';

/** Headless, no sandbox (root in a container), and no network of its own beyond the page under test. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const INSTALL_HINT = `the browser test needs Debian's chromium at ${CHROMIUM}: as root run \`apt-get install -y --no-install-recommends chromium\``;

const run = promisify(execFile);

/** Ensures CHROMIUM exists. Resolves to undefined when it does, else to the one line to show. */
export async function provisionChromium(log: (s: string) => void): Promise<string | undefined> {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.platform !== 'linux' || !isRoot() || !existsSync('/usr/bin/apt-get')) return INSTALL_HINT;
  const started = Date.now();
  log(`${CHROMIUM} not found; installing Debian's chromium with apt-get (once)`);
  // apt's own sandbox user cannot enter the run's private TMPDIR; other agents may hold the dpkg lock for a while.
  const opts = { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', TMPDIR: '/tmp' }, timeout: 900_000, maxBuffer: 64 << 20 };
  try {
    await run('apt-get', ['-qq', '-o', 'DPkg::Lock::Timeout=300', 'update'], opts);
    await run('apt-get', ['-y', '-qq', '-o', 'DPkg::Lock::Timeout=300', 'install', '--no-install-recommends', 'chromium'], opts);
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim().split('\n').pop();
    return `${INSTALL_HINT} (apt-get failed: ${stderr || (e instanceof Error ? e.message.split('\n')[0] : String(e))})`;
  }
  if (!existsSync(CHROMIUM)) return INSTALL_HINT;
  log(`chromium installed in ${Math.round((Date.now() - started) / 1000)} s`);
  return undefined;
}
