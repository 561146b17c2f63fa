import { describe, expect, test } from 'vitest';
import { allEntries } from '../../../test/support/statement.js';
import { balanceOf, customerWith, DAY, expectRefused, iso, setup, T0 } from './support.js';

describe('grant: top-ups, promotions, manual adjustments', () => {
  test('records source, priority, expiry and metadata; answers with the grant and the account', async () => {
    const s = setup();
    await customerWith(s);
    const result = await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '500',
      source: 'top_up',
      priority: 20,
      expiresAt: new Date(T0 + 30 * DAY),
      metadata: { invoice: 'in_1' },
    });
    expect(result).toEqual({
      grantId: expect.stringMatching(/^grant_/),
      currency: 'credits',
      source: 'top_up',
      amount: '500',
      remaining: '500',
      priority: 20,
      effectiveAt: iso(T0),
      expiresAt: iso(T0 + 30 * DAY),
      status: 'active',
      subscriptionId: null,
      metadata: { invoice: 'in_1' },
      appliesTo: null,
      price: null,
      paymentId: null,
      account: {
        currency: 'credits',
        balance: '500',
        held: '0',
        available: '500',
        creditLimit: '0',
        debt: '0',
        scoped: [],
      },
    });
    const [line] = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(line).toMatchObject({ kind: 'grant', amount: '500', source: 'top_up', grantId: result.grantId });
  });

  test("defaults: source 'manual', priority 50, effective now, never expires (expiresAt null)", async () => {
    const s = setup();
    await customerWith(s);
    const result = await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '1' });
    expect(result).toMatchObject({ source: 'manual', priority: 50, effectiveAt: iso(T0), expiresAt: null });
  });

  test('times are accepted as Date or ISO-8601 strings and returned as ISO-8601', async () => {
    const s = setup();
    await customerWith(s);
    const result = await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '1',
      effectiveAt: '2025-02-01T00:00:00+02:00',
      expiresAt: new Date('2025-03-01T00:00:00Z'),
    });
    expect(result).toMatchObject({
      effectiveAt: '2025-01-31T22:00:00.000Z',
      expiresAt: '2025-03-01T00:00:00.000Z',
    });
  });

  test('a promotion in usd and a top-up in credits land in separate accounts', async () => {
    const s = setup();
    await customerWith(s);
    await s.ledger.grant({ customerId: 'cus_1', currency: 'usd', amount: '2.50', source: 'promotion' });
    await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '3', source: 'top_up' });
    expect(
      (await s.ledger.creditAccounts({ customerId: 'cus_1' })).map((a) => [a.currency, a.balance]),
    ).toEqual([
      ['credits', '3'],
      ['usd', '2.50'],
    ]);
  });
});

describe('future grants count only from effectiveAt', () => {
  test('pending until then, then counted, with no write in between; the entry is dated effectiveAt', async () => {
    const s = setup();
    await customerWith(s);
    const effectiveAt = iso(T0 + DAY);
    const result = await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '40',
      effectiveAt,
    });
    expect(result).toMatchObject({ status: 'pending', account: { balance: '0' } });
    expect(await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' })).toEqual([]);
    await expectRefused(
      s.store,
      () => s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 }),
      'insufficient_credits',
    );

    s.clock.set(T0 + DAY);
    expect((await balanceOf(s.ledger))!.balance).toBe('40');
    const [grant] = await s.ledger.grants({ customerId: 'cus_1', currency: 'credits' });
    expect(grant!.status).toBe('active');
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.map((e) => [e.kind, e.amount, e.at])).toEqual([['grant', '40', effectiveAt]]);
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 1 });
    expect((await balanceOf(s.ledger))!.balance).toBe('30');
  });

  test('effectiveAt in the past and expiresAt not after effectiveAt are invalid_time', async () => {
    const s = setup();
    await customerWith(s);
    await expectRefused(
      s.store,
      () =>
        s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '1', effectiveAt: iso(T0 - 1) }),
      'invalid_time',
      'effectiveAt',
    );
    await expectRefused(
      s.store,
      () =>
        s.ledger.grant({
          customerId: 'cus_1',
          currency: 'credits',
          amount: '1',
          effectiveAt: iso(T0 + DAY),
          expiresAt: iso(T0 + DAY),
        }),
      'invalid_time',
      'expiresAt',
    );
    await expectRefused(
      s.store,
      () => s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '1', expiresAt: iso(T0) }),
      'invalid_time',
      'expiresAt',
    );
  });
});

describe('voidGrant', () => {
  test("removes a grant's unused remainder with a void entry; spent credit stays spent", async () => {
    const s = setup();
    await customerWith(s);
    const { grantId } = await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '50' });
    await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '5', priority: 90 });
    await s.ledger.trackUsage({ customerId: 'cus_1', feature: 'ai-generation', quantity: 2 });
    s.clock.advance(1000);
    const voided = await s.ledger.voidGrant({ customerId: 'cus_1', grantId, reason: 'chargeback' });
    expect(voided).toMatchObject({ grantId, status: 'voided', remaining: '0', amount: '50' });
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.at(-1)).toMatchObject({
      kind: 'void',
      amount: '-30',
      balance: '5',
      grantId,
      reason: 'chargeback',
      at: iso(T0 + 1000),
    });
    expect((await balanceOf(s.ledger))!.balance).toBe('5');
  });

  test('a voided future grant never counts: its grant and void lines net to zero at effectiveAt', async () => {
    const s = setup();
    await customerWith(s);
    const effectiveAt = iso(T0 + DAY);
    const { grantId } = await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '40',
      effectiveAt,
    });
    await s.ledger.voidGrant({ customerId: 'cus_1', grantId, reason: 'mistake' });
    s.clock.set(T0 + 2 * DAY);
    expect((await balanceOf(s.ledger))!.balance).toBe('0');
    const entries = await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits' });
    expect(entries.map((e) => [e.kind, e.amount, e.at])).toEqual([
      ['grant', '40', effectiveAt],
      ['void', '-40', effectiveAt],
    ]);
    expect(entries.at(-1)!.balance).toBe('0');
    expect(await allEntries(s.ledger, { customerId: 'cus_1', currency: 'credits', at: iso(T0 + 1) })).toEqual(
      [],
    );
  });

  test('voiding twice or an expired grant is grant_not_active, an unknown grant unknown_grant; none writes', async () => {
    const s = setup();
    await customerWith(s);
    const { grantId } = await s.ledger.grant({ customerId: 'cus_1', currency: 'credits', amount: '5' });
    const expiring = await s.ledger.grant({
      customerId: 'cus_1',
      currency: 'credits',
      amount: '5',
      expiresAt: iso(T0 + 1000),
    });
    await s.ledger.voidGrant({ customerId: 'cus_1', grantId });
    await expectRefused(
      s.store,
      () => s.ledger.voidGrant({ customerId: 'cus_1', grantId }),
      'grant_not_active',
      'grantId',
    );
    await expectRefused(
      s.store,
      () => s.ledger.voidGrant({ customerId: 'cus_1', grantId: 'grant_nope' }),
      'unknown_grant',
      'grantId',
    );
    s.clock.advance(1000);
    await expectRefused(
      s.store,
      () => s.ledger.voidGrant({ customerId: 'cus_1', grantId: expiring.grantId }),
      'grant_not_active',
      'grantId',
    );
  });
});
