import type { TallyErrorCode } from '@tally/core';

/**
 * The `code` of a {@link TallyClientError}: one the ledger answers with, one of the HTTP layer's, or
 * one of this package's own (`network_error` when no answer came, `host_error` when the host's
 * purchase call failed without a code of its own).
 *
 * @example
 * const upgrade = (code: TallyClientErrorCode) => code === 'insufficient_credits';
 */
export type TallyClientErrorCode =
  | TallyErrorCode
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'invalid_json'
  | 'bad_request'
  | 'payload_too_large'
  | 'internal_error'
  | 'network_error'
  | 'host_error';

/**
 * What every hook's `error` holds: shaped like the server's `TallyError` (a stable `code`, a message
 * for humans, the `field` the error is about), with the HTTP `status` it came with (0 when no answer
 * came). Branch on `code`, never on `message`.
 *
 * @example
 * function Balance() {
 *   const { error } = useCreditAccounts();
 *   if (error?.code === 'forbidden') return <p>Sign in again</p>;
 *   return null;
 * }
 */
export class TallyClientError extends Error {
  override readonly name = 'TallyError';
  readonly code: TallyClientErrorCode;
  readonly field: string | undefined;
  readonly status: number;

  constructor(
    code: TallyClientErrorCode,
    message: string,
    options: { field?: string; status?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.status = options.status ?? 0;
  }

  /**
   * Whether sending the same request again (with the same idempotency key) may succeed: no answer
   * came, the server failed, or a concurrent write got in first. A 4xx refusal stays a refusal.
   */
  get retryable(): boolean {
    return this.status === 0 || this.status >= 500 || this.code === 'concurrency_conflict';
  }
}

/** Reads an error response's `{ error: { code, message, field? } }`, whatever the body turns out to be. */
export async function errorFromResponse(res: Response): Promise<TallyClientError> {
  const body = (await res.json().catch(() => null)) as {
    error?: { code?: unknown; message?: unknown; field?: unknown };
  } | null;
  const error = body?.error;
  const code =
    typeof error?.code === 'string' ? error.code : res.status >= 500 ? 'internal_error' : 'bad_request';
  const message = typeof error?.message === 'string' ? error.message : `HTTP ${res.status}`;
  return new TallyClientError(code as TallyClientErrorCode, message, {
    status: res.status,
    ...(typeof error?.field === 'string' ? { field: error.field } : {}),
  });
}

/** Any failure as a {@link TallyClientError}: one already shaped keeps its code, others become `fallback`. */
export function toClientError(error: unknown, fallback: TallyClientErrorCode): TallyClientError {
  if (error instanceof TallyClientError) return error;
  const shaped = error as { code?: unknown; message?: unknown; field?: unknown; status?: unknown } | null;
  if (typeof shaped?.code === 'string') {
    return new TallyClientError(
      shaped.code as TallyClientErrorCode,
      typeof shaped.message === 'string' ? shaped.message : shaped.code,
      {
        ...(typeof shaped.field === 'string' ? { field: shaped.field } : {}),
        ...(typeof shaped.status === 'number' ? { status: shaped.status } : {}),
        cause: error,
      },
    );
  }
  return new TallyClientError(fallback, error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}
