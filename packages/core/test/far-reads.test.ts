import { describe, expect, test } from 'vitest';
import { MAX_DUE_PER_READ } from '../src/ledger/due.js';
import { customerWith, expectTallyError, setup } from './support.js';

// Issue: one read as of 2850 on a monthly subscriber folded about 10,000 renewals in one turn of the
// event loop, and eight of them made unrelated requests wait seconds.
describe('a read far ahead is bounded and never stalls other calls', () => {
  test('a read that would make more than MAX_DUE_PER_READ events due is invalid_time on at, and writes nothing', async () => {
    const s = setup();
    await customerWith(s, 'daily');
    const before = await s.store.readAll();
    // A daily plan makes at least one event due a day: 200 years is past the bound.
    const at = new Date(Date.UTC(2225, 0, 1)).toISOString();
    expect(200 * 365).toBeGreaterThan(MAX_DUE_PER_READ);
    await expectTallyError(s.ledger.creditAccounts({ customerId: 'cus_1', at }), 'invalid_time', 'at');
    expect(await s.store.readAll()).toEqual(before);
  });

  test('a read within the bound answers, and other calls finish while it folds', async () => {
    const s = setup();
    await customerWith(s, 'free', 'cus_far');
    await customerWith(s, 'free', 'cus_near');
    const finished: string[] = [];
    // About 10,000 monthly renewals: the read.
    const far = s.ledger
      .creditAccounts({ customerId: 'cus_far', at: '2850-01-01T00:00:00.000Z' })
      .then((accounts) => {
        finished.push('far');
        return accounts;
      });
    const near = s.ledger.creditAccounts({ customerId: 'cus_near' }).then((accounts) => {
      finished.push('near');
      return accounts;
    });
    const [farAccounts, nearAccounts] = await Promise.all([far, near]);
    expect(finished).toEqual(['near', 'far']);
    expect(nearAccounts.map((a) => a.balance)).toEqual(['100']);
    // Monthly credits expire at each renewal: as of 2850 the customer holds one cycle's 100.
    expect(farAccounts.map((a) => a.balance)).toEqual(['100']);
  });
});
