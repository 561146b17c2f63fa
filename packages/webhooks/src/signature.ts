import { createHmac, timingSafeEqual } from 'node:crypto';
import { TallyError } from '@tally/core';
import { checkOptions, type OptionRules, option } from '@tally/core/pure';

/**
 * Stripe-style signatures: the sender signs `"<t>.<body>"` with HMAC-SHA256 under the endpoint's
 * secret and sends `Tally-Signature: t=<unix seconds>,v1=<hex>`. The timestamp is inside what is
 * signed, so a captured delivery cannot be re-dated; a receiver refuses one whose timestamp is outside
 * its tolerance, which bounds how long a captured delivery can be replayed.
 */

/**
 * The header carrying the timestamp and the signatures.
 *
 * @example
 * const header = request.headers.get(SIGNATURE_HEADER); // 't=1767225600,v1=5f1c…'
 */
export const SIGNATURE_HEADER = 'Tally-Signature';
/**
 * The header carrying the id of the ledger event delivered: the same on every retry of it.
 *
 * @example
 * const eventId = request.headers.get(EVENT_ID_HEADER); // deduplicate on it
 */
export const EVENT_ID_HEADER = 'Tally-Event-Id';

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** The hex HMAC-SHA256 of `"<t>.<body>"` under `secret`. */
function hmac(secret: string, timestamp: number, body: string | Uint8Array): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${timestamp}.`, 'utf8');
  mac.update(body);
  return mac.digest('hex');
}

/**
 * The `Tally-Signature` value for `body` sent at `timestamp` (unix seconds): one `v1` per secret, so
 * a receiver still holding the previous secret during a rotation accepts the delivery too.
 *
 * @example
 * const header = signatureHeader('{"id":"evt_1"}', ['whsec_0123456789abcdef'], Math.floor(Date.now() / 1000));
 * // 't=1767225600,v1=5f1c…'
 */
export function signatureHeader(
  body: string | Uint8Array,
  secrets: readonly string[],
  timestamp: number,
): string {
  checkBody('signatureHeader', body);
  checkSecrets('signatureHeader', 'secrets', secrets);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    const problem = `must be whole unix seconds, got ${shown(timestamp)}`;
    throw new TallyError('invalid_input', `signatureHeader: timestamp ${problem}`, { field: 'timestamp' });
  }
  return [`t=${timestamp}`, ...secrets.map((secret) => `v1=${hmac(secret, timestamp, body)}`)].join(',');
}

/**
 * Why `verifyWebhook` refused a delivery. `missing_header` and `malformed_header`: no usable
 * `Tally-Signature`; `no_valid_signature`: no `v1` matches under any of the secrets (forged, the body
 * altered, or the wrong secret); `timestamp_outside_tolerance`: signed too long ago or in the future
 * (a replay of an old delivery, or a clock far off).
 *
 * @example
 * const retryable: WebhookVerificationReason[] = []; // none: a refused delivery is answered 400
 */
export type WebhookVerificationReason =
  | 'missing_header'
  | 'malformed_header'
  | 'no_valid_signature'
  | 'timestamp_outside_tolerance';

/**
 * A delivery `verifyWebhook` refuses; `reason` says why. Answer it with a 4xx and do not act on it.
 *
 * @example
 * function receive(body: string, header: string | null): Response {
 *   try { verifyWebhook(body, header, secret) }
 *   catch (error) { if (error instanceof WebhookVerificationError) return new Response(error.reason, { status: 400 }); throw error; }
 *   return new Response(null, { status: 200 });
 * }
 */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(
    readonly reason: WebhookVerificationReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Options of {@link verifyWebhook}.
 *
 * @example
 * const options: VerifyOptions = { toleranceSeconds: 60, now: () => new Date() };
 */
export interface VerifyOptions {
  /** How far the signature's timestamp may be from now, either way; default 300 (5 minutes). */
  readonly toleranceSeconds?: number;
  /** Where "now" comes from; default the system clock. */
  readonly now?: () => Date;
}

/**
 * A delivered event, as `verifyWebhook` returns it once the signature holds.
 *
 * @example
 * const event: WebhookEvent = verifyWebhook(body, request.headers.get('tally-signature'), secret);
 * if (event.type === 'credits_deducted') console.log(event.customerId, event.data);
 */
export interface WebhookEvent {
  /** The ledger event's id: the same on every retry, so a receiver deduplicates on it. */
  readonly id: string;
  readonly type: string;
  /** When the fact happened in the ledger (ISO-8601). */
  readonly createdAt: string;
  /** The customer whose stream the event is in; null for an event of no customer (the catalog). */
  readonly customerId: string | null;
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * Checks a delivery the way a receiver must before acting on it: the `Tally-Signature` header's
 * timestamp is within `toleranceSeconds` of now, and one of its `v1` signatures is the HMAC of
 * `"<t>.<body>"` under `secret` (or under one of several secrets, while rotating). Signatures are
 * compared in constant time. Pass the body exactly as received (the raw bytes or text, not re-encoded
 * JSON). Returns the parsed event; throws {@link WebhookVerificationError} otherwise, and `TallyError`
 * `invalid_input` naming the argument for a mistake in the call itself (an unknown option, a body
 * that is not a string or bytes, an empty secret).
 *
 * Within the tolerance a captured delivery could be sent again: deduplicate on the event's `id`
 * (the `Tally-Event-Id` header), which the sender keeps across retries.
 *
 * @example
 * import { createServer } from 'node:http';
 * import { verifyWebhook } from '@tally/webhooks';
 *
 * createServer(async (req, res) => {
 *   const chunks: Buffer[] = [];
 *   for await (const chunk of req) chunks.push(chunk as Buffer);
 *   const event = verifyWebhook(Buffer.concat(chunks), req.headers['tally-signature'], process.env.WEBHOOK_SECRET!);
 *   res.writeHead(200).end();
 * }).listen(4000);
 */
export function verifyWebhook(
  body: string | Uint8Array,
  header: string | readonly string[] | null | undefined,
  secret: string | readonly string[],
  options: VerifyOptions = {},
): WebhookEvent {
  checkOptions(options, VERIFY_OPTION_RULES, { factory: 'verifyWebhook' });
  const secrets = typeof secret === 'string' ? [secret] : secret;
  checkSecrets('verifyWebhook', 'secret', secrets);
  const tolerance = options.toleranceSeconds ?? 300;
  if (header === null || header === undefined || header.length === 0) {
    throw new WebhookVerificationError('missing_header', `no ${SIGNATURE_HEADER} header`);
  }
  // node:http gives a repeated header as a list: only one signature header is meaningful.
  if (typeof header !== 'string') {
    if (header.length !== 1) {
      throw new WebhookVerificationError('malformed_header', `${SIGNATURE_HEADER} is given more than once`);
    }
    header = header[0]!;
  }
  const { timestamp, signatures } = parseHeader(header);
  // After the header: a request that carries no signature is answered as one (missing_header), whatever
  // the receiver's framework made of its body.
  checkBody('verifyWebhook', body);
  const now = Math.floor(currentTime(options.now) / 1000);
  // The signatures first: a forged delivery is refused as forged, whatever its timestamp.
  let valid = false;
  for (const key of secrets) {
    const expected = Buffer.from(hmac(key, timestamp, body), 'hex');
    for (const signature of signatures) {
      // Every pair is compared: how long it takes says nothing about which one matched.
      valid = timingSafeEqual(expected, signature) || valid;
    }
  }
  if (!valid) {
    throw new WebhookVerificationError(
      'no_valid_signature',
      'no signature matches the body under the secret: the delivery is forged, altered, or signed with another secret',
    );
  }
  if (Math.abs(now - timestamp) > tolerance) {
    throw new WebhookVerificationError(
      'timestamp_outside_tolerance',
      `the delivery was signed at ${timestamp}, ${now - timestamp} s from now; the tolerance is ${tolerance} s`,
    );
  }
  return parseEvent(body);
}

/** What `verifyWebhook` takes as options; anything else is refused, as every factory's options are. */
const VERIFY_OPTION_RULES: OptionRules = {
  toleranceSeconds: option.nonNegativeNumber,
  now: option.function,
};

/**
 * Mistakes in the receiver's own code (a parsed body, a missing secret) are `invalid_input` naming
 * the argument, like every other entry point's; a delivery that fails verification is a
 * {@link WebhookVerificationError} instead, answered with a 4xx.
 */
function checkBody(fn: string, body: unknown): void {
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw new TallyError(
      'invalid_input',
      `${fn}: body must be the raw body as received (a string or bytes), got ${shown(body)}`,
      { field: 'body' },
    );
  }
}

function checkSecrets(fn: string, field: string, secrets: unknown): void {
  const valid =
    Array.isArray(secrets) && secrets.length > 0 && secrets.every((s) => typeof s === 'string' && s !== '');
  // The message never shows the value: it may be a secret.
  if (!valid) {
    throw new TallyError('invalid_input', `${fn}: ${field} must be a non-empty string (or a list of them)`, {
      field,
    });
  }
}

/** A refused value as a message shows it: numbers as they are, anything else by its type. */
const shown = (value: unknown): string =>
  typeof value === 'number' ? String(value) : value === null ? 'null' : typeof value;

function currentTime(now: (() => Date) | undefined): number {
  if (now === undefined) return Date.now();
  const date: unknown = now();
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new TallyError(
      'invalid_input',
      `verifyWebhook: now() must return a valid Date, got ${shown(date)}`,
      {
        field: 'now',
      },
    );
  }
  return date.getTime();
}

/** The timestamp and the `v1` signatures (32-byte digests) of a header; other schemes are ignored. */
function parseHeader(header: string): { timestamp: number; signatures: Buffer[] } {
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const at = part.indexOf('=');
    if (at <= 0) throw new WebhookVerificationError('malformed_header', `${SIGNATURE_HEADER} is malformed`);
    const key = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined || !/^\d{1,15}$/.test(value)) {
        throw new WebhookVerificationError('malformed_header', `${SIGNATURE_HEADER} has no single valid t=`);
      }
      timestamp = Number(value);
    } else if (key === 'v1' && HEX_SHA256.test(value)) {
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestamp === undefined) {
    throw new WebhookVerificationError('malformed_header', `${SIGNATURE_HEADER} has no t=`);
  }
  if (signatures.length === 0) {
    throw new WebhookVerificationError('malformed_header', `${SIGNATURE_HEADER} has no v1 signature`);
  }
  return { timestamp, signatures };
}

function parseEvent(body: string | Uint8Array): WebhookEvent {
  const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
  // The sender signed it, so it is what the sender wrote: JSON of a WebhookEvent.
  return JSON.parse(text) as WebhookEvent;
}
