import type {
  CheckResult,
  CreditAccount,
  EntriesOrder,
  EntriesPage,
  GrantView,
  TrackUsageInput,
  UsageResult,
} from '@tally/core';
import { errorFromResponse, TallyClientError } from './errors.js';

/**
 * A token for `Authorization: Bearer …`: the customer token the host's backend minted for the
 * signed-in user (never a secret API key in a browser). Called before every request, so a host can
 * hand back a fresh token when the old one is about to expire.
 *
 * @example
 * const getToken: GetToken = async () => {
 *   const { token } = (await (await fetch('/session/token')).json()) as { token: string };
 *   return token;
 * };
 */
export type GetToken = () => string | Promise<string>;

/**
 * Where the API is and who is asking.
 *
 * @example
 * const options: TallyClientOptions = { baseUrl: 'https://api.example.com', customerId: 'cus_123', getToken };
 */
export interface TallyClientOptions {
  /** The origin (and path prefix) the REST API's `/v1` routes are under; `''` for the page's own. */
  readonly baseUrl: string;
  /** The signed-in customer: every read and write is about them. */
  readonly customerId: string;
  readonly getToken: GetToken;
  /** Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
}

/**
 * One page of `GET /v1/ledger` (the ledger's `EntriesPage`): the entries, and the cursor of the next.
 *
 * @example
 * const page: LedgerPage = await client.ledgerPage({ currency: 'credits', limit: 20 });
 * if (page.hasMore) await client.ledgerPage({ currency: 'credits', limit: 20, cursor: page.nextCursor! });
 */
export type LedgerPage = EntriesPage;

/**
 * A usage to record for the client's customer, with the `Idempotency-Key` it is sent under.
 *
 * @example
 * const usage: UsageCall = { feature: 'ai-generation', quantity: 1, idempotencyKey: crypto.randomUUID() };
 */
export type UsageCall = Omit<TrackUsageInput, 'customerId' | 'idempotencyKey'> & {
  readonly idempotencyKey: string;
};

/**
 * The REST calls the hooks make, for one customer.
 *
 * @example
 * const client: TallyClient = createTallyClient({ baseUrl: '', customerId: 'cus_123', getToken });
 * const [credits] = await client.creditAccounts();
 */
export interface TallyClient {
  readonly baseUrl: string;
  readonly customerId: string;
  creditAccounts(): Promise<readonly CreditAccount[]>;
  ledgerPage(query: {
    currency?: string;
    limit?: number;
    cursor?: string;
    order?: EntriesOrder;
  }): Promise<LedgerPage>;
  grants(query?: { currency?: string }): Promise<readonly GrantView[]>;
  check(query: { feature: string; quantity: number }): Promise<CheckResult>;
  trackUsage(call: UsageCall): Promise<UsageResult>;
  /** A request to the host's own endpoint, with the same token: what `useCheckout` posts. */
  post(url: string, body: unknown): Promise<unknown>;
}

/**
 * Makes the client {@link TallyProvider} gives its hooks. Errors reject as {@link TallyClientError}:
 * the server's code when it answered, `network_error` when it did not.
 *
 * @example
 * const client = createTallyClient({ baseUrl: 'http://127.0.0.1:3000', customerId: 'cus_123', getToken });
 * const page = await client.ledgerPage({ currency: 'credits', limit: 50 });
 */
export function createTallyClient(options: TallyClientOptions): TallyClient {
  const { customerId, getToken } = options;
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));

  async function request<T>(method: 'GET' | 'POST', url: string, body?: unknown, headers = {}): Promise<T> {
    let token: string;
    try {
      token = await getToken();
    } catch (error) {
      // No token means no session: the same answer the API gives a request without one.
      throw new TallyClientError('unauthorized', 'getToken failed: no token to send', {
        status: 401,
        cause: error,
      });
    }
    let res: Response;
    try {
      res = await doFetch(url, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new TallyClientError('network_error', `no answer from ${url}`, { cause: error });
    }
    if (!res.ok) throw await errorFromResponse(res);
    return (await res.json().catch((error: unknown) => {
      throw new TallyClientError('network_error', `the answer of ${url} was cut short`, {
        status: res.status,
        cause: error,
      });
    })) as T;
  }

  const api = (path: string, query: Record<string, string | number | undefined> = {}): string => {
    const params = new URLSearchParams({ customerId });
    for (const [name, value] of Object.entries(query))
      if (value !== undefined) params.set(name, String(value));
    return `${baseUrl}/v1${path}?${params}`;
  };

  return {
    baseUrl,
    customerId,
    async creditAccounts() {
      return (await request<{ data: CreditAccount[] }>('GET', api('/credit-accounts'))).data;
    },
    ledgerPage({ currency, limit, cursor, order }) {
      return request<LedgerPage>('GET', api('/ledger', { currency, limit, cursor, order }));
    },
    async grants(query = {}) {
      return (await request<{ data: GrantView[] }>('GET', api('/grants', query))).data;
    },
    check({ feature, quantity }) {
      return request<CheckResult>('POST', `${baseUrl}/v1/check`, { customerId, feature, quantity });
    },
    trackUsage({ idempotencyKey, ...usage }) {
      return request<UsageResult>(
        'POST',
        `${baseUrl}/v1/usage`,
        { ...usage, customerId },
        { 'idempotency-key': idempotencyKey },
      );
    },
    post(url, body) {
      return request<unknown>('POST', url, body);
    },
  };
}
