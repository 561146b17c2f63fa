import type { CheckResult } from '@tally/core';
import { type UseQueryResult, useQuery } from '@tanstack/react-query';
import type { TallyClientError } from './errors.js';
import { tallyKey, useTallyClient } from './provider.js';
import type { ReadOptions } from './use-credit-accounts.js';

/**
 * Whether the signed-in customer can pay for `quantity` units of `feature` now, and what it would
 * cost (`POST /v1/check`; writes nothing). For display only: the server's `trackUsage` is what
 * enforces, whatever the page shows.
 *
 * @example
 * function Generate() {
 *   const { data } = useCheck('ai-generation', 1);
 *   return <button type="button" disabled={!data?.allowed}>Generate ({data?.cost} credits)</button>;
 * }
 */
export function useCheck(
  feature: string,
  quantity = 1,
  options: ReadOptions<CheckResult> = {},
): UseQueryResult<CheckResult, TallyClientError> {
  const client = useTallyClient();
  return useQuery<CheckResult, TallyClientError>({
    queryKey: tallyKey(client, 'check', feature, quantity),
    queryFn: () => client.check({ feature, quantity }),
    ...(options.initialData === undefined ? {} : { initialData: options.initialData }),
  });
}
