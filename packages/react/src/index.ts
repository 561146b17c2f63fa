/**
 * `@tally/react`: React hooks over Tally's REST API, on TanStack Query — balances, the paged ledger,
 * grants, gates, usage and top-ups for the signed-in customer, with a customer token the host's
 * backend mints (never a secret key in a browser).
 *
 * @example
 * import { Gate, TallyProvider, useCreditAccounts } from '@tally/react';
 *
 * const page = (
 *   <TallyProvider baseUrl="" customerId="cus_123" getToken={getToken}>
 *     <Gate feature="ai-generation" fallback={<BuyCredits />}><GenerateButton /></Gate>
 *   </TallyProvider>
 * );
 *
 * @packageDocumentation
 */
export {
  createTallyClient,
  type GetToken,
  type LedgerPage,
  type TallyClient,
  type TallyClientOptions,
  type UsageCall,
} from './client.js';
export { TallyClientError, type TallyClientErrorCode } from './errors.js';
export { Gate, type GateProps } from './gate.js';
export { TallyProvider, type TallyProviderProps, tallyKey, useTallyClient } from './provider.js';
export { useTallyRefresh } from './refresh.js';
export { useCheck } from './use-check.js';
export { type ReadOptions, useCreditAccounts } from './use-credit-accounts.js';
export { useGrants } from './use-grants.js';
export { type LedgerResult, type UseLedgerOptions, useLedger } from './use-ledger.js';
export { useCheckout, useTopUp } from './use-top-up.js';
export { type TrackUsageVariables, type UseTrackUsageOptions, useTrackUsage } from './use-track-usage.js';
