/** One HTTP attempt of a delivery: a POST with a timeout, its outcome as data (it never throws). */

export interface SendOutcome {
  readonly ok: boolean;
  /** The response's status; null when there was none (refused, reset, timed out). */
  readonly status: number | null;
  readonly error: string | null;
}

/**
 * POSTs `body` to `url`. Only a 2xx is a success; a redirect is not followed (the endpoint's URL is
 * the one registered) and counts as a failure, as does a timeout or a connection error.
 */
export async function post(
  fetchFn: typeof fetch,
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<SendOutcome> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetchFn(url, { method: 'POST', body, headers, redirect: 'manual', signal });
    // Read to the end so the connection can be reused; what the receiver answers is not kept.
    await response.arrayBuffer().catch(() => undefined);
    if (response.status >= 200 && response.status < 300) {
      return { ok: true, status: response.status, error: null };
    }
    return { ok: false, status: response.status, error: `the endpoint answered ${response.status}` };
  } catch (error) {
    const reason = signal.aborted ? `no answer within ${timeoutMs} ms` : describe(error);
    return { ok: false, status: null, error: reason };
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`.slice(0, 500);
}
