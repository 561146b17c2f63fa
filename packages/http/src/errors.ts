import type { TallyErrorCode } from '@tally/core';

/**
 * Codes only the HTTP layer produces, next to every {@link TallyErrorCode} the ledger can answer with.
 *
 * @example
 * The body of a 401:
 * ```json
 * { "error": { "code": "unauthorized", "message": "send a valid API key as \"Authorization: Bearer <key>\"" } }
 * ```
 */
export type HttpOnlyErrorCode =
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'invalid_json'
  | 'bad_request'
  | 'payload_too_large'
  | 'internal_error';

/**
 * The `code` of an error response: a Tally error code passed through, or one of the HTTP layer's own.
 *
 * @example
 * const res = await fetch(`${base}/v1/usage`, { method: 'POST', headers, body });
 * if (!res.ok) {
 *   const { error } = (await res.json()) as ErrorBody;
 *   if (error.code === 'insufficient_credits') showUpgrade();
 * }
 */
export type HttpErrorCode = TallyErrorCode | HttpOnlyErrorCode;

/**
 * Every error response has this JSON body.
 *
 * @example
 * The body of a 422:
 * ```json
 * { "error": { "code": "insufficient_credits", "message": "…", "field": "quantity" } }
 * ```
 */
export interface ErrorBody {
  readonly error: {
    readonly code: HttpErrorCode;
    readonly message: string;
    /** The input field the error is about, when there is one. */
    readonly field?: string;
  };
}

const STATUS: Record<HttpErrorCode, number> = {
  // The request itself is malformed: fix it before retrying.
  invalid_input: 400,
  invalid_amount: 400,
  invalid_quantity: 400,
  invalid_time: 400,
  invalid_id: 400,
  // A bad catalog definition sent to the catalog routes.
  invalid_catalog: 400,
  invalid_json: 400,
  // The body could not be read to its end: the client hung up early or broke the framing.
  bad_request: 400,
  // Credentials.
  unauthorized: 401,
  // A valid customer token asking for what it may not: another customer, a secret key's route.
  forbidden: 403,
  // The request names something that does not exist.
  not_found: 404,
  unknown_customer: 404,
  unknown_feature: 404,
  unknown_plan: 404,
  unknown_currency: 404,
  unknown_subscription: 404,
  unknown_grant: 404,
  unknown_usage: 404,
  unknown_hold: 404,
  unknown_webhook_endpoint: 404,
  unknown_webhook_delivery: 404,
  // The request conflicts with the current state or with an earlier request.
  customer_exists: 409,
  already_subscribed: 409,
  plan_archived: 409,
  payment_not_due: 409,
  grant_not_active: 409,
  subscription_inactive: 409,
  usage_already_reversed: 409,
  hold_not_active: 409,
  webhook_endpoint_exists: 409,
  idempotency_conflict: 409,
  concurrency_conflict: 409,
  // Well-formed, but the books refuse it.
  insufficient_credits: 422,
  payload_too_large: 413,
  // The server's side: configuration, storage or a bug.
  unknown_event: 500,
  corrupt_stream: 500,
  store_error: 500,
  // The ledger behind the handler was closed: the service is shutting down.
  ledger_closed: 503,
  internal_error: 500,
};

/** Every code the API can answer with, in the order of the table above. */
export const ERROR_CODES = Object.keys(STATUS) as readonly HttpErrorCode[];

/**
 * The HTTP status an error code is answered with (500 for a code this version does not know).
 *
 * @example
 * statusOf('insufficient_credits'); // 422
 * statusOf('unknown_customer'); // 404
 */
export function statusOf(code: string): number {
  return Object.hasOwn(STATUS, code) ? STATUS[code as HttpErrorCode] : 500;
}
