import { useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';
import { tallyKey, useTallyClient } from './provider.js';

/**
 * Marks every read of the signed-in customer stale and refetches those on screen: balances, ledger,
 * grants and checks. The write hooks call it when they settle; call it after a write made elsewhere.
 *
 * @example
 * function useRedeem() {
 *   const refresh = useTallyRefresh();
 *   return async (code: string) => {
 *     await fetch('/api/redeem-coupon', { method: 'POST', body: JSON.stringify({ code }) });
 *     await refresh();
 *   };
 * }
 */
export function useTallyRefresh(): () => Promise<void> {
  const client = useTallyClient();
  const queryClient = useQueryClient();
  return useCallback(
    () => queryClient.invalidateQueries({ queryKey: tallyKey(client) }),
    [queryClient, client],
  );
}
