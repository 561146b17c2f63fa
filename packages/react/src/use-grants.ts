import type { GrantView } from '@tally/core';
import { type UseQueryResult, useQuery } from '@tanstack/react-query';
import type { TallyClientError } from './errors.js';
import { tallyKey, useTallyClient } from './provider.js';
import type { ReadOptions } from './use-credit-accounts.js';

/**
 * The signed-in customer's grants (plan credits, purchases, promotions), with what is left of each
 * and when it expires; `currency` narrows them to one.
 *
 * @example
 * const { data } = useGrants({ currency: 'credits' });
 * const purchased = data?.filter((g) => g.source === 'purchase') ?? [];
 */
export function useGrants(
  options: ReadOptions<readonly GrantView[]> & { readonly currency?: string } = {},
): UseQueryResult<readonly GrantView[], TallyClientError> {
  const client = useTallyClient();
  const { currency } = options;
  return useQuery<readonly GrantView[], TallyClientError>({
    queryKey: tallyKey(client, 'grants', currency ?? null),
    queryFn: () => client.grants(currency === undefined ? {} : { currency }),
    ...(options.initialData === undefined ? {} : { initialData: options.initialData }),
  });
}
