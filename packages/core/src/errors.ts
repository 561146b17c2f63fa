/**
 * Every code a `TallyError` can carry, at runtime: what `isTallyError` checks an error's code against.
 *
 * @example
 * const { error } = (await response.json()) as { error: { code: string } };
 * const known = (TALLY_ERROR_CODES as readonly string[]).includes(error.code);
 */
export const TALLY_ERROR_CODES = [
  'invalid_catalog',
  'invalid_input',
  'invalid_amount',
  'invalid_quantity',
  'invalid_time',
  'invalid_id',
  'unknown_customer',
  'unknown_feature',
  'unknown_plan',
  'unknown_currency',
  'unknown_subscription',
  'unknown_grant',
  'unknown_usage',
  'unknown_hold',
  'unknown_webhook_endpoint',
  'unknown_webhook_delivery',
  'customer_exists',
  'already_subscribed',
  'plan_archived',
  'payment_not_due',
  'subscription_inactive',
  'grant_not_active',
  'usage_already_reversed',
  'hold_not_active',
  'webhook_endpoint_exists',
  'insufficient_credits',
  'idempotency_conflict',
  'concurrency_conflict',
  'ledger_closed',
  'unknown_event',
  'corrupt_stream',
  'store_error',
] as const;

/**
 * Every failure Tally reports carries one of these codes. Codes are stable: callers branch on them,
 * messages are for humans and may be reworded.
 *
 * @example
 * const retryLater: TallyErrorCode[] = ['concurrency_conflict', 'store_error'];
 * if (isTallyError(error) && retryLater.includes(error.code)) await retry();
 */
export type TallyErrorCode = (typeof TALLY_ERROR_CODES)[number];

const CODES: ReadonlySet<string> = new Set(TALLY_ERROR_CODES);

/**
 * The one error type Tally throws on purpose.
 *
 * @example
 * try { await ledger.trackUsage({ customerId, feature: 'ai-generation', quantity: 1 }) }
 * catch (e) { if (e instanceof TallyError && e.code === 'insufficient_credits') showUpgrade() }
 */
export class TallyError extends Error {
  override readonly name = 'TallyError';
  readonly code: TallyErrorCode;
  /** The input field or event the error is about, when there is one (e.g. `quantity`, `plans[0].grants[1].amount`). */
  readonly field: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: TallyErrorCode,
    message: string,
    options: { field?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.details = options.details;
  }

  toJSON(): { code: TallyErrorCode; message: string; field?: string } {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}

/**
 * Whether `error` is a `TallyError`, and of `code` when one is given. A type guard, so a `catch` block
 * can branch on the code without a cast. It goes by shape (an `Error` named `TallyError` whose code is
 * one of `TALLY_ERROR_CODES`), not by class, so two copies of `@tally/core` in one app still agree.
 *
 * @example
 * try { await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 }) }
 * catch (error) { if (isTallyError(error, 'insufficient_credits')) showUpgrade(); else throw error; }
 */
export function isTallyError(error: unknown, code?: TallyErrorCode): error is TallyError {
  if (!(error instanceof Error) || error.name !== 'TallyError') return false;
  const actual = (error as { code?: unknown }).code;
  return typeof actual === 'string' && CODES.has(actual) && (code === undefined || actual === code);
}

/**
 * Marks a branch the compiler proves cannot be reached: a `switch` over a union ends in
 * `default: return unreachable(value)`, so a new member that is not handled fails to compile.
 */
export function unreachable(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}
