/**
 * Every failure Tally reports carries one of these codes. Codes are stable: callers branch on them,
 * messages are for humans and may be reworded.
 *
 * @example
 * const retryLater: TallyErrorCode[] = ['concurrency_conflict', 'store_error'];
 * if (isTallyError(error) && retryLater.includes(error.code)) await retry();
 */
export type TallyErrorCode =
  | 'invalid_catalog'
  | 'invalid_input'
  | 'invalid_amount'
  | 'invalid_quantity'
  | 'invalid_time'
  | 'invalid_id'
  | 'unknown_customer'
  | 'unknown_feature'
  | 'unknown_plan'
  | 'unknown_currency'
  | 'unknown_subscription'
  | 'unknown_grant'
  | 'unknown_usage'
  | 'unknown_hold'
  | 'customer_exists'
  | 'subscription_inactive'
  | 'usage_already_reversed'
  | 'hold_not_active'
  | 'insufficient_credits'
  | 'idempotency_conflict'
  | 'concurrency_conflict'
  | 'unknown_event'
  | 'corrupt_stream'
  | 'store_error';

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
 * can branch on the code without a cast.
 *
 * @example
 * try { await ledger.trackUsage({ customerId: 'cus_123', feature: 'ai-generation', quantity: 1 }) }
 * catch (error) { if (isTallyError(error, 'insufficient_credits')) showUpgrade(); else throw error; }
 */
export const isTallyError = (error: unknown, code?: TallyErrorCode): error is TallyError =>
  error instanceof TallyError && (code === undefined || error.code === code);
