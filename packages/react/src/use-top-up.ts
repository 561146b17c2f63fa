import { type UseMutationResult, useMutation } from '@tanstack/react-query';
import { type TallyClientError, toClientError } from './errors.js';
import { useTallyClient } from './provider.js';
import { useTallyRefresh } from './refresh.js';

/**
 * Runs the host's purchase call — Tally charges nothing: your backend takes the payment and grants
 * the credits (`ledger.grant({ source: 'purchase', paymentId, … })`) — then refreshes balances and
 * ledger. Not retried: whether a purchase may be sent again is the host's to decide. A failure
 * without a `code` of its own is `host_error`.
 *
 * @example
 * function TopUp() {
 *   const topUp = useTopUp((pack: { credits: number }) =>
 *     fetch('/billing/top-up', { method: 'POST', body: JSON.stringify(pack) }).then((r) => r.json()),
 *   );
 *   return <button type="button" onClick={() => topUp.mutate({ credits: 100 })}>Buy 100 credits</button>;
 * }
 */
export function useTopUp<TInput = void, TResult = unknown>(
  purchase: (input: TInput) => Promise<TResult>,
): UseMutationResult<TResult, TallyClientError, TInput> {
  const refresh = useTallyRefresh();
  return useMutation<TResult, TallyClientError, TInput>({
    mutationFn: async (input) => {
      try {
        return await purchase(input);
      } catch (error) {
        throw toClientError(error, 'host_error');
      }
    },
    onSettled: () => refresh(),
  });
}

/**
 * Posts to the host's checkout `endpoint` (a URL of your backend, with the same customer token in
 * `Authorization`) and refreshes balances and ledger when it answers. The answer is the endpoint's
 * JSON: a redirect URL to a payment page, or the purchase it made.
 *
 * @example
 * function Checkout() {
 *   const checkout = useCheckout<{ pack: string }, { grantId: string }>('/billing/checkout');
 *   return <button type="button" onClick={() => checkout.mutate({ pack: 'credits-100' })}>Buy 100 credits</button>;
 * }
 */
export function useCheckout<TInput = unknown, TResult = unknown>(
  endpoint: string,
): UseMutationResult<TResult, TallyClientError, TInput> {
  const client = useTallyClient();
  return useTopUp<TInput, TResult>(async (input) => (await client.post(endpoint, input ?? {})) as TResult);
}
