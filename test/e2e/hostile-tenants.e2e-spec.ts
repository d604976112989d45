/**
 * Another tenant's ids: operator B names operator A's users, tokens (operator- and
 * issuer-signed), transactions, issuer, notification and operator id, in paths, bodies
 * and filters. Each answer must be exactly the answer to an unknown id (same status,
 * same body once the id itself is masked), and nothing may be written. Each foreign id is
 * first shown to be real: its owner (or the admin) reads it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, http, type TestApp } from '../support/app';
import { freshDatabase, WriteWatcher } from '../support/db';
import { createTenant, expectContractAnswer, type Tenant } from '../support/hostile';
import { adminToken } from '../support/api';

type Req = { method: string; path: string; body?: unknown };

describe("another tenant's ids", () => {
  let t: TestApp;
  let admin: string;
  let a: Tenant;
  let b: Tenant;
  let issuerId: string;
  let issuerTokenId: string;
  let notificationId: string;
  let watcher: WriteWatcher;

  beforeAll(async () => {
    const db = await freshDatabase('tenants');
    // No audit anchor during the run: an anchor is a transaction of its own, which the write watcher would count.
    t = await createTestApp({ env: { DATABASE_URL: db, AUDIT_ANCHOR_INTERVAL: '1h' } });
    admin = await adminToken(t.url);
    a = await createTenant(t.url, admin, 'tena');
    b = await createTenant(t.url, admin, 'tenb');
    const issuer = await http(t.url, 'POST', '/v1/issuers', { token: admin, body: { name: 'A専用発行体' } });
    issuerId = issuer.body.id;
    expect((await http(t.url, 'POST', `/v1/issuers/${issuerId}/operators`, { token: admin, body: { operatorId: a.op.id } })).status).toBe(
      200,
    );
    const itok = await http(t.url, 'POST', '/v1/tokens', {
      token: a.op.token,
      body: { name: 'A Issuer Bond', symbol: 'AIB', decimals: 0, issuerId },
      headers: { prefer: 'wait=30' },
    });
    expect(itok.body.status, itok.text).toBe('active');
    issuerTokenId = itok.body.id;
    // A notification of A's: a reissued wallet.
    const re = await fetch(`${t.url}/v1/users/${a.userId}/wallet?reissue=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: '紛失' }),
    });
    expect(re.status).toBe(201);
    await re.arrayBuffer();
    const feed = await http(t.url, 'GET', '/v1/notifications', { token: a.op.token });
    notificationId = feed.body.items[0]?.id;
    expect(notificationId).toBeTruthy();
    watcher = await WriteWatcher.open(db);
  }, 240_000);
  afterAll(async () => {
    await watcher?.close();
    await t?.close();
  });

  /** Status and body with the named id (and request-specific fields) masked. */
  function normal(r: { status: number; text: string; headers: Headers }, id: string) {
    return { status: r.status, contentType: r.headers.get('content-type'), body: r.text.split(id).join('<id>') };
  }

  /** What the pipeline writes as it works a row it already has. */
  const PIPELINE_TABLES = ['public.transactions', 'public.signer_nonces', 'public.webhook_events', 'public.webhook_deliveries'];

  /** B's answer with A's id must equal B's answer with an unknown id; neither writes anything. */
  async function likeUnknown(label: string, foreign: string, make: (id: string) => Req): Promise<void> {
    const send = async (id: string) => {
      const r = make(id);
      const before = await watcher.quiet();
      const res = await http(t.url, r.method, r.path, { token: b.op.token, body: r.body });
      let written = WriteWatcher.changed(before, await watcher.snapshot());
      // The pipeline may finish a row of the set-up while this request runs (the lost wallet's
      // freeze, seen in CI): only the pipeline's states on rows older than the snapshot are let
      // through, with the pipeline's (system) audit events. A request's own write is a new row,
      // another state or an audit event of its actor.
      const pipelineOnly = written.includes('public.transactions') && (await watcher.onlyPipelineSince(before));
      if (pipelineOnly) written = written.filter((tbl) => !PIPELINE_TABLES.includes(tbl));
      expect(written, `${label}: tables written ${await watcher.changesSince(before)}`).toEqual([]);
      expect(await watcher.auditSuccessesSince(before, { exceptSystem: pipelineOnly }), `${label}: audit events`).toEqual([]);
      expectContractAnswer(label, res.status, res.headers.get('content-type'), res.body);
      return res;
    };
    const unknown = randomUUID();
    const f = await send(foreign);
    const u = await send(unknown);
    expect(normal(f, foreign), `${label}: a foreign id answered differently from an unknown id`).toEqual(normal(u, unknown));
  }

  it('the foreign ids are real: their owner reads them', async () => {
    for (const path of [
      `/v1/users/${a.userId}`,
      `/v1/tokens/${a.tokenId}`,
      `/v1/tokens/${issuerTokenId}`,
      `/v1/transactions/${a.txId}`,
      `/v1/issuers/${issuerId}`,
      `/v1/operators/${a.op.id}`,
      `/v1/tokens/${a.tokenId}/balances/${a.userId}`,
    ]) {
      expect((await http(t.url, 'GET', path, { token: a.op.token })).status, path).toBe(200);
    }
  });

  it('answers A ids in paths exactly like unknown ids, and writes nothing', async () => {
    const ops = ['issue', 'redeem', 'deposit', 'withdraw', 'freeze', 'unfreeze', 'recover'] as const;
    const cases: Array<[string, string, (id: string) => Req]> = [
      ['GET user', a.userId, (id) => ({ method: 'GET', path: `/v1/users/${id}` })],
      ['GET pending user', a.pendingUserId, (id) => ({ method: 'GET', path: `/v1/users/${id}` })],
      ['wallet issuance of A user', a.userId, (id) => ({ method: 'POST', path: `/v1/users/${id}/wallet`, body: {} })],
      ['GET operator A', a.op.id, (id) => ({ method: 'GET', path: `/v1/operators/${id}` })],
      ['GET issuer of A', issuerId, (id) => ({ method: 'GET', path: `/v1/issuers/${id}` })],
      ['GET transaction', a.txId, (id) => ({ method: 'GET', path: `/v1/transactions/${id}` })],
      ['cancel transaction', a.txId, (id) => ({ method: 'POST', path: `/v1/transactions/${id}/cancel`, body: {} })],
      ['read A notification', notificationId, (id) => ({ method: 'POST', path: `/v1/notifications/${id}/read`, body: {} })],
      ...[a.tokenId, issuerTokenId].flatMap((tokenId, n): Array<[string, string, (id: string) => Req]> => [
        [`GET token ${n}`, tokenId, (id) => ({ method: 'GET', path: `/v1/tokens/${id}` })],
        [`holders ${n}`, tokenId, (id) => ({ method: 'GET', path: `/v1/tokens/${id}/holders` })],
        [`custody ${n}`, tokenId, (id) => ({ method: 'GET', path: `/v1/tokens/${id}/custody` })],
        [`balance on A token ${n}`, tokenId, (id) => ({ method: 'GET', path: `/v1/tokens/${id}/balances/${b.userId}` })],
        ...ops.map((op): [string, string, (id: string) => Req] => [
          `${op} on A token ${n}`,
          tokenId,
          (id) => ({
            method: 'POST',
            path: `/v1/tokens/${id}/${op}`,
            body: { userId: b.userId, ...(['issue', 'redeem', 'deposit', 'withdraw'].includes(op) ? { amount: '1' } : {}) },
          }),
        ]),
        [
          `forced-transfer on A token ${n}`,
          tokenId,
          (id) => ({
            method: 'POST',
            path: `/v1/tokens/${id}/forced-transfer`,
            body: { fromUserId: b.userId, toUserId: b.userId, amount: '1', reason: 'x' },
          }),
        ],
        [`pause A token ${n}`, tokenId, (id) => ({ method: 'POST', path: `/v1/tokens/${id}/pause`, body: {} })],
      ]),
      ['balance of A user on B token', a.userId, (id) => ({ method: 'GET', path: `/v1/tokens/${b.tokenId}/balances/${id}` })],
    ];
    for (const [label, foreign, make] of cases) await likeUnknown(label, foreign, make);
  }, 60_000);

  it('answers A ids in bodies exactly like unknown ids, and writes nothing', async () => {
    const on =
      (op: string, body: (id: string) => object) =>
      (id: string): Req => ({ method: 'POST', path: `/v1/tokens/${b.tokenId}/${op}`, body: body(id) });
    const cases: Array<[string, string, (id: string) => Req]> = [
      ['issue to A user', a.userId, on('issue', (id) => ({ userId: id, amount: '1' }))],
      ['issue to A pending user', a.pendingUserId, on('issue', (id) => ({ userId: id, amount: '1' }))],
      ['redeem from A user', a.userId, on('redeem', (id) => ({ userId: id, amount: '1' }))],
      ['deposit of A user', a.userId, on('deposit', (id) => ({ userId: id, amount: '1' }))],
      ['withdraw to A user', a.userId, on('withdraw', (id) => ({ userId: id, amount: '1' }))],
      ['freeze A user', a.userId, on('freeze', (id) => ({ userId: id }))],
      ['unfreeze A user', a.userId, on('unfreeze', (id) => ({ userId: id }))],
      ['recover A user', a.userId, on('recover', (id) => ({ userId: id }))],
      [
        'forced transfer to A user',
        a.userId,
        on('forced-transfer', (id) => ({ fromUserId: b.userId, toUserId: id, amount: '1', reason: 'x' })),
      ],
      [
        'forced transfer from A user',
        a.userId,
        on('forced-transfer', (id) => ({ fromUserId: id, toUserId: b.userId, amount: '1', reason: 'x' })),
      ],
      ['A token id as a user id', a.tokenId, on('issue', (id) => ({ userId: id, amount: '1' }))],
      ['A operator id as a user id', a.op.id, on('freeze', (id) => ({ userId: id }))],
      [
        'token of an issuer granted to A only',
        issuerId,
        (id) => ({ method: 'POST', path: '/v1/tokens', body: { name: 'Stolen', symbol: 'STL', decimals: 0, issuerId: id } }),
      ],
      [
        'grant to A issuer (admin route)',
        issuerId,
        (id) => ({ method: 'POST', path: `/v1/issuers/${id}/operators`, body: { operatorId: b.op.id } }),
      ],
    ];
    for (const [label, foreign, make] of cases) await likeUnknown(label, foreign, make);
  }, 60_000);

  it('answers A ids in list filters exactly like unknown ids', async () => {
    const cases: Array<[string, string, (id: string) => Req]> = [
      ['transactions of A token', a.tokenId, (id) => ({ method: 'GET', path: `/v1/transactions?tokenId=${id}` })],
      ['transactions of A user', a.userId, (id) => ({ method: 'GET', path: `/v1/transactions?userId=${id}` })],
      ['audit events of actor A', a.op.id, (id) => ({ method: 'GET', path: `/v1/audit-events?actor=${id}` })],
    ];
    for (const [label, foreign, make] of cases) await likeUnknown(label, foreign, make);
  });
});
