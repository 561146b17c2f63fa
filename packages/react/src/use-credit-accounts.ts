import type { CreditAccount } from '@tally/core';
import { type UseQueryResult, useQuery } from '@tanstack/react-query';
import type { TallyClientError } from './errors.js';
import { tallyKey, useTallyClient } from './provider.js';

/**
 * Options of the read hooks: `initialData` (e.g. what the server rendered with) shows at once,
 * without a request on the server; in the browser the hook then refreshes it.
 *
 * @example
 * const options: ReadOptions<readonly CreditAccount[]> = { initialData: await ledger.creditAccounts({ customerId }) };
 */
export interface ReadOptions<T> {
  readonly initialData?: T;
}

/**
 * The signed-in customer's balance in every currency (`balance`, `held`, `available`, the `scoped`
 * parts only some features may spend), refreshed after every write a hook makes.
 *
 * @example
 * function Balance() {
 *   const { data, isLoading, error } = useCreditAccounts();
 *   if (isLoading) return <span>loading</span>;
 *   if (error) return <span>{error.code}</span>;
 *   return <span>{data?.find((a) => a.currency === 'credits')?.balance ?? '0'} credits</span>;
 * }
 */
export function useCreditAccounts(
  options: ReadOptions<readonly CreditAccount[]> = {},
): UseQueryResult<readonly CreditAccount[], TallyClientError> {
  const client = useTallyClient();
  return useQuery<readonly CreditAccount[], TallyClientError>({
    queryKey: tallyKey(client, 'credit-accounts'),
    queryFn: () => client.creditAccounts(),
    ...(options.initialData === undefined ? {} : { initialData: options.initialData }),
  });
}
