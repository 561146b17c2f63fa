import type { ReactNode } from 'react';
import { useCheck } from './use-check.js';

/**
 * Props of {@link Gate}.
 *
 * @example
 * const props: GateProps = { feature: 'ai-generation', quantity: 1, fallback: <BuyCredits />, children: <GenerateButton /> };
 */
export interface GateProps {
  readonly feature: string;
  /** Default 1. */
  readonly quantity?: number;
  /** Shown when the customer cannot pay (and when the check failed). Default nothing. */
  readonly fallback?: ReactNode;
  /** Shown until the first answer. Default nothing. */
  readonly loading?: ReactNode;
  readonly children?: ReactNode;
}

/**
 * Shows its children while the signed-in customer can pay for the feature, the fallback otherwise.
 * It hides a button; it does not protect anything: the server's `trackUsage` refuses what cannot
 * be paid for (`insufficient_credits`), and that is the check that counts.
 *
 * @example
 * <Gate feature="ai-generation" quantity={1} fallback={<BuyCredits />}>
 *   <GenerateButton />
 * </Gate>
 */
export function Gate({
  feature,
  quantity = 1,
  fallback = null,
  loading = null,
  children,
}: GateProps): ReactNode {
  const { data, isLoading } = useCheck(feature, quantity);
  if (isLoading) return loading;
  return data?.allowed === true ? children : fallback;
}
