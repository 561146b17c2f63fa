import type { Money } from '../catalog/index.js';
import type { StoredEvent } from '../event-store.js';
import { checkOptions, type OptionRules, option, required, withMethods } from '../input/options.js';
import type { Ledger } from './create-ledger.js';

/**
 * What the host's purchase function is asked for: charge the customer for `amount` credits. The same
 * `idempotencyKey` comes back for every try of one request (after a crash, a failure, or from another
 * process), so a payment API that honours it (Stripe's `Idempotency-Key`) charges once.
 *
 * @example
 * const purchase = async (request: PurchaseRequest): Promise<Purchased> => {
 *   const intent = { id: `pi_${request.idempotencyKey.length}` }; // stripe.paymentIntents.create(..., { idempotencyKey })
 *   return { paymentId: intent.id, price: { amount: '5.00', currency: 'USD' } };
 * };
 */
export interface PurchaseRequest {
  readonly customerId: string;
  readonly currency: string;
  readonly amount: string;
  readonly idempotencyKey: string;
}

/**
 * What a purchase that went through answers: the host's payment id and what was paid.
 *
 * @example
 * const purchased: Purchased = { paymentId: 'pi_42', price: { amount: '5.00', currency: 'USD' } };
 */
export interface Purchased {
  readonly paymentId: string;
  readonly price: Money;
}

/**
 * What `runAutoTopUps` did for each request it found due.
 *
 * @example
 * const outcomes: AutoTopUpOutcome[] = await runAutoTopUps({ ledger, purchase, customerId: 'cus_123' });
 * const failed = outcomes.filter((o) => o.outcome === 'failed');
 */
export interface AutoTopUpOutcome {
  readonly currency: string;
  readonly requestId: string;
  readonly amount: string;
  readonly outcome: 'granted' | 'failed';
  readonly paymentId: string | null;
  readonly error: string | null;
}

/** What the executor needs of a ledger: the calls it makes. */
const executorLedger = withMethods('a Ledger (createLedger)', [
  'evaluateAlerts',
  'completeAutoTopUp',
  'failAutoTopUp',
]);
const HANDLER_OPTION_RULES: OptionRules = {
  ledger: required(executorLedger),
  purchase: required(option.function),
};
const RUN_OPTION_RULES: OptionRules = {
  ...HANDLER_OPTION_RULES,
  customerId: required(option.nonEmptyString),
};

/**
 * Carries out a customer's requested auto top-ups: stores what fell due (a request time alone made),
 * then for each request in flight that is not waiting out a backoff, calls `purchase` with the
 * request's idempotency key and records the result (`completeAutoTopUp`, or `failAutoTopUp` when it
 * throws). Safe to run again, at once or after a crash, and in several processes: the key makes the
 * host charge once, and the payment id makes the credits arrive once.
 *
 * @example
 * await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 });
 * await runAutoTopUps({ ledger, purchase, customerId: 'cus_123' }); // buys if the usage crossed
 */
export async function runAutoTopUps(options: {
  readonly ledger: Ledger;
  readonly purchase: (request: PurchaseRequest) => Promise<Purchased>;
  readonly customerId: string;
}): Promise<AutoTopUpOutcome[]> {
  checkOptions(options, RUN_OPTION_RULES, { factory: 'runAutoTopUps' });
  const { ledger, purchase, customerId } = options;
  const { autoTopUps } = await ledger.evaluateAlerts({ customerId });
  const outcomes: AutoTopUpOutcome[] = [];
  for (const rule of autoTopUps) {
    const pending = rule.pending;
    if (pending === null || !pending.due) continue;
    const { requestId, amount } = pending;
    let purchased: Purchased;
    try {
      purchased = await purchase({
        customerId,
        currency: rule.currency,
        amount,
        idempotencyKey: pending.idempotencyKey,
      });
    } catch (error) {
      const reason =
        (error instanceof Error ? error.message : String(error)).slice(0, 1_000) || 'purchase failed';
      await ledger.failAutoTopUp({ customerId, currency: rule.currency, requestId, error: reason });
      outcomes.push({
        currency: rule.currency,
        requestId,
        amount,
        outcome: 'failed',
        paymentId: null,
        error: reason,
      });
      continue;
    }
    await ledger.completeAutoTopUp({
      customerId,
      currency: rule.currency,
      requestId,
      paymentId: purchased.paymentId,
      price: purchased.price,
    });
    outcomes.push({
      currency: rule.currency,
      requestId,
      amount,
      outcome: 'granted',
      paymentId: purchased.paymentId,
      error: null,
    });
  }
  return outcomes;
}

/**
 * A feed handler that carries out auto top-ups: for each customer whose events in the batch ask for
 * one (or set, fail or re-arm a rule), `runAutoTopUps`. Delivery at least once is fine: a request
 * already completed is no longer in flight.
 *
 * @example
 * const processor = createProcessor({ store, name: 'auto-top-up', handle: autoTopUpHandler({ ledger, purchase }) });
 */
export function autoTopUpHandler(options: {
  readonly ledger: Ledger;
  readonly purchase: (request: PurchaseRequest) => Promise<Purchased>;
}): (batch: { readonly events: readonly StoredEvent[] }) => Promise<void> {
  checkOptions(options, HANDLER_OPTION_RULES, { factory: 'autoTopUpHandler' });
  const wakes = new Set(['auto_top_up_requested', 'auto_top_up_failed', 'auto_top_up_set']);
  return async (batch) => {
    const customers = new Set<string>();
    for (const event of batch.events) {
      if (wakes.has(event.type) && event.streamId.startsWith('customer-'))
        customers.add(event.streamId.slice('customer-'.length));
    }
    for (const customerId of customers) await runAutoTopUps({ ...options, customerId });
  };
}
