import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createContext, type ReactNode, useContext, useMemo, useState } from 'react';
import { createTallyClient, type GetToken, type TallyClient } from './client.js';
import type { TallyClientError } from './errors.js';

const TallyContext = createContext<TallyClient | null>(null);

/**
 * Props of {@link TallyProvider}.
 *
 * @example
 * const props: TallyProviderProps = { baseUrl: '', customerId: 'cus_123', getToken, children: <BuyCredits /> };
 */
export interface TallyProviderProps {
  /** The origin (and path prefix) of the REST API's `/v1` routes; `''` for the page's own origin. */
  readonly baseUrl: string;
  /** The signed-in customer the hooks read and write. */
  readonly customerId: string;
  /** The customer token for `Authorization: Bearer …`, asked for before every request. */
  readonly getToken: GetToken;
  /** Share your app's TanStack Query cache; default a client of the provider's own. */
  readonly queryClient?: QueryClient;
  /** Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
  readonly children?: ReactNode;
}

/** Failures worth trying again: no answer, a server error, a lost race. A 4xx refusal is final. */
const retry = (failures: number, error: TallyClientError): boolean => failures < 2 && error.retryable;

/**
 * Gives the hooks below it their API, customer and cache. Create the token on your backend for the
 * signed-in user (`createCustomerToken` in `@tally/http`) and hand it to `getToken`.
 *
 * @example
 * const app = (
 *   <TallyProvider baseUrl="" customerId={customerId} getToken={getToken} queryClient={queryClient}>
 *     <BuyCredits />
 *   </TallyProvider>
 * );
 */
export function TallyProvider(props: TallyProviderProps): ReactNode {
  const { baseUrl, customerId, getToken, fetch } = props;
  // One client per provider, made once: StrictMode's double render must not make two caches.
  const [ownClient] = useState(
    () =>
      props.queryClient ??
      new QueryClient({
        defaultOptions: {
          queries: { retry: retry as (failures: number, error: Error) => boolean, staleTime: 2_000 },
        },
      }),
  );
  const queryClient = props.queryClient ?? ownClient;
  // The token function may be a new closure every render; the client reads the latest one.
  const tokenRef = useLatest(getToken);
  const client = useMemo(
    () =>
      createTallyClient({
        baseUrl,
        customerId,
        getToken: () => tokenRef.current(),
        ...(fetch === undefined ? {} : { fetch }),
      }),
    [baseUrl, customerId, fetch, tokenRef],
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TallyContext.Provider value={client}>{props.children}</TallyContext.Provider>
    </QueryClientProvider>
  );
}

function useLatest<T>(value: T): { current: T } {
  const [ref] = useState(() => ({ current: value }));
  ref.current = value;
  return ref;
}

/**
 * The client of the nearest {@link TallyProvider}, for calls the hooks do not make.
 *
 * @example
 * function useCreditsGrants() {
 *   const client = useTallyClient();
 *   return () => client.grants({ currency: 'credits' });
 * }
 */
export function useTallyClient(): TallyClient {
  const client = useContext(TallyContext);
  if (client === null) throw new Error('@tally/react: wrap the component in <TallyProvider>');
  return client;
}

/**
 * The cache keys of one customer's data: `[…, 'credit-accounts']`, `[…, 'ledger', currency, pageSize, order]`,
 * `[…, 'grants', currency]`, `[…, 'check', feature, quantity]`; invalidate `tallyKey(client)` to
 * refresh all of it.
 *
 * @example
 * await queryClient.invalidateQueries({ queryKey: tallyKey(client) });
 */
export function tallyKey(client: TallyClient, ...rest: readonly unknown[]): readonly unknown[] {
  return ['tally', client.baseUrl, client.customerId, ...rest];
}
