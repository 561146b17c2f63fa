import type { UsageResult } from '@tally/core';
import { type UseMutationResult, useMutation } from '@tanstack/react-query';
import { useCallback } from 'react';
import type { UsageCall } from './client.js';
import type { TallyClientError } from './errors.js';
import { newIdempotencyKey } from './idempotency-key.js';
import { useTallyClient } from './provider.js';
import { useTallyRefresh } from './refresh.js';

/**
 * A usage to record: the feature and quantity (and optional `metadata`), and optionally the
 * `idempotencyKey` to send it under — give one when the same intent may be sent twice (a form
 * submitted again, an effect run twice), so the server records it once.
 *
 * @example
 * const usage: TrackUsageVariables = { feature: 'ai-generation', quantity: 1, idempotencyKey: `job-${id}` };
 */
export type TrackUsageVariables = Omit<UsageCall, 'idempotencyKey'> & { readonly idempotencyKey?: string };

/**
 * Options of {@link useTrackUsage}.
 *
 * @example
 * const options: UseTrackUsageOptions = { retries: 5, retryDelay: (attempt) => 200 * 2 ** attempt };
 */
export interface UseTrackUsageOptions {
  /** How many times a call that got no answer (or a 5xx) is sent again. Default 3. */
  readonly retries?: number;
  /** Milliseconds before retry `attempt` (0-based). Default 250 ms doubling. */
  readonly retryDelay?: (attempt: number) => number;
}

/** The call as sent: its own key unless the caller gave one. */
const withKey = (variables: TrackUsageVariables): UsageCall => ({
  ...variables,
  idempotencyKey: variables.idempotencyKey ?? newIdempotencyKey(),
});

/**
 * Records usage for the signed-in customer (`POST /v1/usage`): a mutation whose every call is sent
 * under its own `Idempotency-Key`, kept across that call's retries, so a request that was recorded
 * but whose answer was lost is not charged again when retried. Balances, ledger and checks refresh
 * when it settles. The token must carry the `trackUsage` scope.
 *
 * Most services meter on their own backend (as the example service's `/ai/generate` does); this hook
 * is for usage the browser itself reports.
 *
 * @example
 * function Export() {
 *   const track = useTrackUsage();
 *   return (
 *     <>
 *       <button type="button" onClick={() => track.mutate({ feature: 'export', quantity: 1 })} disabled={track.isPending}>
 *         Export
 *       </button>
 *       {track.error?.code === 'insufficient_credits' && <BuyCredits />}
 *     </>
 *   );
 * }
 */
export function useTrackUsage(
  options: UseTrackUsageOptions = {},
): UseMutationResult<UsageResult, TallyClientError, TrackUsageVariables> {
  const client = useTallyClient();
  const refresh = useTallyRefresh();
  const retries = options.retries ?? 3;
  const mutation = useMutation<UsageResult, TallyClientError, UsageCall>({
    mutationFn: (call) => client.trackUsage(call),
    // TanStack retries with the same variables: the same key, so the server answers a retry of a
    // recorded usage with that usage instead of charging again.
    retry: (failures, error) => failures <= retries && error.retryable,
    retryDelay: options.retryDelay ?? ((attempt) => 250 * 2 ** attempt),
    onSettled: () => refresh(),
  });
  const { mutate: mutateCall, mutateAsync: mutateCallAsync } = mutation;
  const mutate = useCallback<UseMutationResult<UsageResult, TallyClientError, TrackUsageVariables>['mutate']>(
    (variables, callbacks) => mutateCall(withKey(variables), callbacks),
    [mutateCall],
  );
  const mutateAsync = useCallback<
    UseMutationResult<UsageResult, TallyClientError, TrackUsageVariables>['mutateAsync']
  >((variables, callbacks) => mutateCallAsync(withKey(variables), callbacks), [mutateCallAsync]);
  return { ...mutation, mutate, mutateAsync } as UseMutationResult<
    UsageResult,
    TallyClientError,
    TrackUsageVariables
  >;
}
