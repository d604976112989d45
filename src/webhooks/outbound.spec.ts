import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANSWER_KEEP_BYTES, deliver, isPublicAddress, urlProblem } from './outbound';

const strict = { production: false, allowPrivate: false };
const prod = { production: true, allowPrivate: false };

describe('isPublicAddress', () => {
  it.each([
    '127.0.0.1',
    '127.1.2.3',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '169.254.1.1',
    '100.64.0.1',
    '100.127.255.254',
    '0.0.0.0',
    '0.1.2.3',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '::ffff:10.0.0.1',
    '64:ff9b::a9fe:a9fe',
    '2002:7f00:0001::1',
    '2002:a9fe:a9fe::1',
  ])('refuses %s', (a) => expect(isPublicAddress(a)).toBe(false));

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '100.128.0.1'])('accepts %s', (a) =>
    expect(isPublicAddress(a)).toBe(true),
  );
});

describe('urlProblem', () => {
  it.each([
    'http://127.0.0.1/hook',
    'http://[::1]:8080/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::ffff:169.254.169.254]/',
    'http://[::ffff:7f00:1]/',
    'http://2130706433/',
    'http://0x7f.1/',
    'http://10.1.2.3/',
    'http://100.64.1.1/',
    'http://0.0.0.0:3000/',
    'http://user:pw@example.com/',
    'ftp://example.com/',
    'not a url',
  ])('refuses %s when private addresses are not allowed', (u) => expect(urlProblem(u, strict)).not.toBeNull());

  it('allows loopback only with allowPrivate', () => {
    expect(urlProblem('http://127.0.0.1:8080/h', { production: false, allowPrivate: true })).toBeNull();
    expect(urlProblem('http://127.0.0.1:8080/h', strict)).toMatch(/non-public/);
  });

  it('in production: https on 443 only', () => {
    expect(urlProblem('http://hooks.example.com/', prod)).toMatch(/https/);
    expect(urlProblem('https://hooks.example.com:8443/', prod)).toMatch(/443/);
    expect(urlProblem('https://hooks.example.com/', prod)).toBeNull();
    expect(urlProblem('https://hooks.example.com:443/x', prod)).toBeNull();
  });
});

describe('deliver', () => {
  let server: Server;
  let port = 0;
  const seen: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.url ?? '');
      if (req.url === '/redirect') {
        res.writeHead(302, { location: '/target' }).end();
      } else if (req.url === '/big') {
        res.writeHead(200).end('x'.repeat(100_000));
      } else if (req.url === '/slow') {
        // Far past the deadline, so a busy event loop cannot let the answer overtake the abort.
        setTimeout(() => res.writeHead(200).end('late'), 30_000).unref();
      } else res.writeHead(204).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  const allow = { production: false, allowPrivate: true };

  it('does not follow a redirect: a 3xx is a failed attempt', async () => {
    const r = await deliver({ url: `http://127.0.0.1:${port}/redirect`, headers: {}, body: '{}', policy: allow });
    expect(r).toMatchObject({ ok: false, status: 302 });
    expect(seen).not.toContain('/target');
  });

  it('keeps at most 1 kB of an answer', async () => {
    const r = await deliver({ url: `http://127.0.0.1:${port}/big`, headers: {}, body: '{}', policy: allow });
    expect(r.ok).toBe(true);
    expect(r.answer.length).toBe(ANSWER_KEEP_BYTES);
  });

  it('connects to exactly the address it resolved and checked', async () => {
    // A name resolving to loopback is refused without a connection when private addresses are not allowed.
    const before = seen.length;
    const refused = await deliver({
      url: `http://hooks.example.test:${port}/named`,
      headers: {},
      body: '{}',
      policy: strict,
      resolve: async () => ({ address: '127.0.0.1', family: 4 }),
    });
    expect(refused).toMatchObject({ ok: false, status: null });
    expect(refused.ok ? '' : refused.error).toMatch(/non-public/);
    expect(seen.length).toBe(before);
    // Allowed: the request goes to the resolved address, whatever the name would resolve to now.
    let calls = 0;
    const ok = await deliver({
      url: `http://hooks.example.test:${port}/named`,
      headers: {},
      body: '{}',
      policy: allow,
      resolve: async () => (calls++, { address: '127.0.0.1', family: 4 }),
    });
    expect(ok).toMatchObject({ ok: true, status: 204 });
    expect(calls).toBe(1);
    expect(seen.at(-1)).toBe('/named');
  });

  it('gives the whole exchange one 10 s deadline, garbage collections meanwhile included', async () => {
    // Full collections while the receiver stalls: a deadline held only weakly (AbortSignal.timeout
    // inside AbortSignal.any, nodejs/node#57736) is collected and never fires.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const collect = setInterval(gc, 500);
    const t0 = Date.now();
    const r = await deliver({ url: `http://127.0.0.1:${port}/slow`, headers: {}, body: '{}', policy: allow }).finally(() =>
      clearInterval(collect),
    );
    expect(r).toMatchObject({ ok: false, status: null });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(9_900);
    // Timers fire late on a loaded machine: the bound only says the deadline is not doubled.
    expect(Date.now() - t0).toBeLessThan(12_000);
  }, 15_000);
});
