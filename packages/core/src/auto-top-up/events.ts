import type { Money } from '../catalog/index.js';

/**
 * The facts of auto top-up. The rule, each purchase asked for, each failure and each completion are
 * events in the customer's stream, so at most one purchase is in flight per rule (a second crossing
 * sees the first in the state), a crash after the host charged retries the same request with the
 * same idempotency key, and caps and cooldowns are counted from what the stream says happened.
 */

/**
 * Caps on top-ups: at most `count` requests and `amount` credits per rolling `periodMs`.
 *
 * @example
 * const cap: TopUpCap = { count: 3, amount: '3000', periodMs: 86_400_000 };
 */
export interface TopUpCap {
  readonly count: number | null;
  readonly amount: string | null;
  readonly periodMs: number;
}

/**
 * Recorded by `setAutoTopUp`: when the available balance of `currency` is below `threshold`, buy
 * `amount` (as many times over as the deficit needs, in one purchase) or enough to reach `target`.
 *
 * @example
 * const event: AutoTopUpSet = { type: 'auto_top_up_set', data: {
 *   currency: 'credits', threshold: '100', amount: '500', target: null, maxPerPeriod: null,
 *   cooldownMs: 0, maxFailures: 3, retryBackoffMs: 60_000, paused: false } };
 */
export interface AutoTopUpSet {
  readonly type: 'auto_top_up_set';
  readonly data: {
    readonly currency: string;
    readonly threshold: string;
    readonly amount: string | null;
    readonly target: string | null;
    readonly maxPerPeriod: TopUpCap | null;
    /** Least time between two requests. */
    readonly cooldownMs: number;
    /** Failures of one request after which the rule pauses. */
    readonly maxFailures: number;
    /** Wait after the first failure; doubled after each further one. */
    readonly retryBackoffMs: number;
    readonly paused: boolean;
  };
}

/**
 * Recorded when the available balance is below the rule's threshold and nothing is in flight: a
 * purchase of `amount` is due, to be made with `idempotencyKey` (derived from `triggeredBy`, the
 * event that took the balance below) however many times it is tried.
 *
 * @example
 * const event: AutoTopUpRequested = { type: 'auto_top_up_requested', data: {
 *   requestId: 'evt_01J…', currency: 'credits', amount: '2000', available: '-150',
 *   triggeredBy: 'evt_01H…', idempotencyKey: 'tally-auto-top-up:cus_123:credits:evt_01H…' } };
 */
export interface AutoTopUpRequested {
  readonly type: 'auto_top_up_requested';
  readonly data: {
    readonly requestId: string;
    readonly currency: string;
    readonly amount: string;
    readonly available: string;
    readonly triggeredBy: string;
    readonly idempotencyKey: string;
  };
}

/**
 * Recorded by `failAutoTopUp`: the host's purchase failed. It is tried again from `retryAt`, or, at
 * the rule's `maxFailures`, the request is dropped and the rule `paused` until set again.
 *
 * @example
 * const event: AutoTopUpFailed = { type: 'auto_top_up_failed', data: {
 *   requestId: 'evt_01J…', currency: 'credits', attempt: 1, error: 'card declined',
 *   retryAt: '2025-01-01T00:01:00.000Z', paused: false } };
 */
export interface AutoTopUpFailed {
  readonly type: 'auto_top_up_failed';
  readonly data: {
    readonly requestId: string;
    readonly currency: string;
    readonly attempt: number;
    readonly error: string;
    readonly retryAt: string | null;
    readonly paused: boolean;
  };
}

/**
 * Recorded by `completeAutoTopUp` after the purchased credits' `credits_granted` (source `purchase`).
 *
 * @example
 * const event: AutoTopUpCompleted = { type: 'auto_top_up_completed', data: {
 *   requestId: 'evt_01J…', currency: 'credits', grantId: 'grant_01J…', paymentId: 'pi_42',
 *   amount: '2000', price: { amount: '20.00', currency: 'USD' } } };
 */
export interface AutoTopUpCompleted {
  readonly type: 'auto_top_up_completed';
  readonly data: {
    readonly requestId: string;
    readonly currency: string;
    readonly grantId: string;
    readonly paymentId: string;
    readonly amount: string;
    readonly price: Money;
  };
}

/**
 * Every fact of auto top-up.
 *
 * @example
 * const inFlight = (event: { type: string }) => event.type === 'auto_top_up_requested';
 */
export type AutoTopUpEvent = AutoTopUpSet | AutoTopUpRequested | AutoTopUpFailed | AutoTopUpCompleted;
