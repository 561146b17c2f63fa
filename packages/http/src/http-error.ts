import type { HttpErrorCode } from './errors.js';

/** Raised inside the handler for an error response the HTTP layer decides on its own. */
export class HttpError extends Error {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}
