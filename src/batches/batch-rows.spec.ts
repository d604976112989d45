import { describe, expect, it } from 'vitest';
import { getAddress } from 'viem';
import { judgeOnChain, parseAmount, resolveRows } from './batch-rows';

const A = getAddress('0x00000000000000000000000000000000000000aa');
const u = (id: string, wallet: string | null, ref: string | null = null) => ({ id, externalRef: ref, walletAddress: wallet });
const ID1 = '11111111-1111-4111-8111-111111111111';
const ID2 = '22222222-2222-4222-8222-222222222222';

describe('batch rows', () => {
  it('takes amounts as digits only: not 0, "1,000", full-width, signs or decimals', () => {
    expect(parseAmount('1500')).toBe(1500n);
    for (const bad of ['0', '1,000', '１０', '-1', '+1', '1.5', 'abc', '', undefined, 10, `1${'0'.repeat(78)}`])
      expect(() => parseAmount(bad)).toThrow();
  });

  it('lists each bad row with its field and code, and resolves users by id or externalRef', () => {
    const users = {
      byId: new Map([
        [ID1, u(ID1, A, 'C-1')],
        [ID2, u(ID2, null)],
      ]),
      byRef: new Map([['C-1', u(ID1, A, 'C-1')]]),
    };
    const j = resolveRows(
      'redeem',
      [
        { row: 1, userId: ID1, amount: '5' },
        { row: 2, externalRef: 'C-1', amount: '6' },
        { row: 3, userId: ID2, amount: '1' },
        { row: 4, externalRef: 'nobody', amount: '1' },
        { row: 5, amount: '1' },
        { row: 6, userId: ID1, externalRef: 'C-1' },
      ],
      users,
      null,
    );
    expect(j.rows.map((r) => r.row)).toEqual([1, 2]);
    expect([...j.problems.values()].map((p) => [p.row, p.field, p.code])).toEqual([
      [3, 'userId', 'WALLET_NOT_ISSUED'],
      [4, 'externalRef', 'NOT_FOUND'],
      [5, 'userId', 'VALIDATION_FAILED'],
      [6, 'amount', 'VALIDATION_FAILED'],
    ]);
  });

  it('checks one user’s debits together, in row order: the first row that no longer fits is invalid', () => {
    const users = { byId: new Map([[ID1, u(ID1, A)]]), byRef: new Map() };
    const rows = [5, 6, 2].map((n, i) => ({ row: i + 1, userId: ID1, amount: String(n) }));
    const j = judgeOnChain('redeem', resolveRows('redeem', rows, users, null), new Map(), new Map([[A, 10n]]));
    expect(j.rows.map((r) => r.row)).toEqual([1, 3]);
    expect(j.problems.get(2)).toMatchObject({ code: 'INSUFFICIENT_BALANCE', field: 'amount' });
  });

  it('needs a legal basis on forced transfers (the row’s or the batch’s)', () => {
    const users = {
      byId: new Map([
        [ID1, u(ID1, A)],
        [ID2, u(ID2, '0x00000000000000000000000000000000000000bB')],
      ]),
      byRef: new Map(),
    };
    const row = { row: 1, userId: ID1, toUserId: ID2, amount: '1' };
    expect(resolveRows('forced-transfer', [row], users, null).problems.get(1)).toMatchObject({ field: 'legalBasis' });
    expect(resolveRows('forced-transfer', [row], users, { code: 'court-order' }).rows).toHaveLength(1);
    expect(resolveRows('forced-transfer', [{ ...row, legalBasis: { code: 'other' } }], users, null).problems.get(1)).toMatchObject({
      field: 'legalBasis.note',
    });
  });
});
