import type { EntriesOrder, LedgerEntry } from '@tally/core';
import { type InfiniteData, useInfiniteQuery } from '@tanstack/react-query';
import { useCallback, useMemo } from 'react';
import type { LedgerPage } from './client.js';
import type { TallyClientError } from './errors.js';
import { tallyKey, useTallyClient } from './provider.js';
import type { ReadOptions } from './use-credit-accounts.js';

/**
 * Options of {@link useLedger}.
 *
 * @example
 * const options: UseLedgerOptions = { currency: 'credits', pageSize: 20 };
 */
export interface UseLedgerOptions extends ReadOptions<LedgerPage> {
  /** One currency's statement (default every currency's entries). */
  readonly currency?: string;
  /** Entries per page (default the server's: 100, at most 1,000). */
  readonly pageSize?: number;
  /** `newest_first` for a statement that opens on the latest entries (default oldest first). */
  readonly order?: EntriesOrder;
}

/**
 * What {@link useLedger} gives: the entries of the pages loaded so far, in the server's order, and
 * `loadMore` for the next page while `hasMore`.
 *
 * @example
 * const useStatement = (): LedgerResult => useLedger({ currency: 'credits', pageSize: 20 });
 */
export interface LedgerResult {
  readonly data: readonly LedgerEntry[] | undefined;
  readonly pages: readonly LedgerPage[];
  readonly isLoading: boolean;
  readonly error: TallyClientError | null;
  readonly hasMore: boolean;
  readonly isLoadingMore: boolean;
  /** Loads the next page; does nothing when there is none or one is already on its way. */
  loadMore(): void;
  refetch(): void;
}

/**
 * The signed-in customer's statement, a page at a time (`GET /v1/ledger` with `limit` and
 * `cursor`), each entry with the running balance after it.
 *
 * @example
 * function Statement() {
 *   const { data, hasMore, loadMore } = useLedger({ currency: 'credits', pageSize: 20 });
 *   return (
 *     <ol>
 *       {data?.map((e) => <li key={e.entryId}>{e.kind} {e.amount}, balance {e.balance}</li>)}
 *       {hasMore && <button type="button" onClick={loadMore}>More</button>}
 *     </ol>
 *   );
 * }
 */
export function useLedger(options: UseLedgerOptions = {}): LedgerResult {
  const client = useTallyClient();
  const { currency, pageSize, order, initialData } = options;
  const query = useInfiniteQuery<
    LedgerPage,
    TallyClientError,
    InfiniteData<LedgerPage, string | null>,
    readonly unknown[],
    string | null
  >({
    queryKey: tallyKey(client, 'ledger', currency ?? null, pageSize ?? null, order ?? null),
    queryFn: ({ pageParam }) =>
      client.ledgerPage({
        ...(currency === undefined ? {} : { currency }),
        ...(pageSize === undefined ? {} : { limit: pageSize }),
        ...(order === undefined ? {} : { order }),
        ...(pageParam === null ? {} : { cursor: pageParam }),
      }),
    initialPageParam: null,
    getNextPageParam: (last) => (last.hasMore && last.nextCursor !== null ? last.nextCursor : undefined),
    ...(initialData === undefined ? {} : { initialData: { pages: [initialData], pageParams: [null] } }),
  });
  const { hasNextPage, isFetchingNextPage, fetchNextPage, refetch } = query;
  const loadMore = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);
  const pages = query.data?.pages;
  const data = useMemo(() => pages?.flatMap((page) => page.data), [pages]);
  return {
    data,
    pages: pages ?? [],
    isLoading: query.isLoading,
    error: query.error,
    hasMore: hasNextPage,
    isLoadingMore: isFetchingNextPage,
    loadMore,
    refetch: useCallback(() => void refetch(), [refetch]),
  };
}
