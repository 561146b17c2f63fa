import { createHmac } from 'node:crypto';
import { TallyError } from '@tally/core';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fcOptions } from '../../../test/support/fast-check.js';
import { signatureHeader, verifyWebhook, WebhookVerificationError } from '../src/index.js';

const SECRET = 'whsec_0123456789abcdef0123';
const NOW = new Date('2026-01-01T00:00:00.000Z');
const T = Math.floor(NOW.getTime() / 1000);
const now = () => NOW;
const BODY = JSON.stringify({
  id: 'evt_01',
  type: 'credits_deducted',
  createdAt: NOW.toISOString(),
  customerId: 'cus_1',
  data: { cost: '10' },
});

/** The reason `verifyWebhook` refuses with, or 'accepted'. */
function outcome(
  body: string | Uint8Array,
  header: string | undefined,
  secret: string | string[] = SECRET,
  options: { toleranceSeconds?: number; now?: () => Date } = { now },
): string {
  try {
    verifyWebhook(body, header, secret, options);
    return 'accepted';
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error.reason;
    throw error;
  }
}

describe('verifyWebhook', () => {
  it('accepts what the sender signed and returns the event', () => {
    const header = signatureHeader(BODY, [SECRET], T);
    // The scheme is the documented one, computable by any receiver without this package.
    const expected = createHmac('sha256', SECRET).update(`${T}.${BODY}`).digest('hex');
    expect(header).toBe(`t=${T},v1=${expected}`);
    expect(verifyWebhook(BODY, header, SECRET, { now })).toMatchObject({ id: 'evt_01', customerId: 'cus_1' });
    expect(verifyWebhook(Buffer.from(BODY), [header], SECRET, { now }).type).toBe('credits_deducted');
  });

  it('refuses a missing or malformed header', () => {
    expect(outcome(BODY, undefined)).toBe('missing_header');
    expect(outcome(BODY, '')).toBe('missing_header');
    expect(outcome(BODY, 'garbage')).toBe('malformed_header');
    expect(outcome(BODY, `v1=${'a'.repeat(64)}`)).toBe('malformed_header');
    expect(outcome(BODY, `t=${T}`)).toBe('malformed_header');
    expect(outcome(BODY, `t=${T},t=${T},v1=${'a'.repeat(64)}`)).toBe('malformed_header');
    expect(outcome(BODY, `t=${T},v1=short`)).toBe('malformed_header');
    expect(() => verifyWebhook(BODY, ['a', 'b'], SECRET, { now })).toThrow(WebhookVerificationError);
  });

  it('refuses a stale or future timestamp (a replay of a captured delivery), at the tolerance bound', () => {
    const at = (seconds: number) => signatureHeader(BODY, [SECRET], T + seconds);
    expect(outcome(BODY, at(-300))).toBe('accepted');
    expect(outcome(BODY, at(-301))).toBe('timestamp_outside_tolerance');
    expect(outcome(BODY, at(301))).toBe('timestamp_outside_tolerance');
    expect(outcome(BODY, at(-3600), SECRET, { now, toleranceSeconds: 3600 })).toBe('accepted');
    // Re-dating a captured delivery breaks its signature: the timestamp is part of what is signed.
    const captured = at(-3600);
    expect(outcome(BODY, captured.replace(`t=${T - 3600}`, `t=${T}`))).toBe('no_valid_signature');
  });

  it("refuses the receiver's own mistakes with invalid_input naming the argument, never showing a secret", () => {
    const header = signatureHeader(BODY, [SECRET], T);
    /** The field of the invalid_input refusal, or what happened instead. */
    const refusal = (call: () => unknown): string => {
      try {
        call();
        return 'accepted';
      } catch (error) {
        if (!(error instanceof TallyError)) return `not a TallyError: ${String(error)}`;
        expect(error.code).toBe('invalid_input');
        expect(error.message).not.toContain(SECRET);
        return error.field ?? 'no field';
      }
    };
    // Options: an unknown one (a typo leaving the default tolerance in force) and bad values.
    const verify = (options: unknown, secret: unknown = SECRET, body: unknown = BODY) =>
      refusal(() => verifyWebhook(body as string, header, secret as string, options as { now: () => Date }));
    expect(verify({ now, tolerance: 60 })).toBe('tolerance');
    expect(verify({ now, toleranceSeconds: -1 })).toBe('toleranceSeconds');
    expect(verify({ now, toleranceSeconds: Number.NaN })).toBe('toleranceSeconds');
    expect(verify({ now, toleranceSeconds: '300' })).toBe('toleranceSeconds');
    expect(verify({ now: NOW })).toBe('now');
    expect(verify({ now: () => 'today' })).toBe('now');
    expect(verify({ now: () => new Date('nope') })).toBe('now');
    expect(verify(null)).toBe('options');
    // The previous secret passed as a fourth argument while rotating (a list was meant): refused, and
    // the message names its type, never its text (the helper checks that).
    expect(verify(SECRET)).toBe('options');
    // The secret and the body.
    expect(verify({ now }, '')).toBe('secret');
    expect(verify({ now }, [])).toBe('secret');
    expect(verify({ now }, [SECRET, ''])).toBe('secret');
    expect(verify({ now }, [SECRET, 42])).toBe('secret');
    expect(verify({ now }, null)).toBe('secret');
    expect(verify({ now }, SECRET, JSON.parse(BODY))).toBe('body');
    expect(verify({ now }, SECRET, null)).toBe('body');
    // A request without a signature is answered as one, whatever its body was parsed into.
    expect(outcome(JSON.parse(BODY), undefined)).toBe('missing_header');
    // The sender's helper, likewise.
    const sign = (body: unknown, secrets: unknown, timestamp: unknown) =>
      refusal(() => signatureHeader(body as string, secrets as string[], timestamp as number));
    expect(sign(BODY, [], T)).toBe('secrets');
    expect(sign(BODY, [''], T)).toBe('secrets');
    expect(sign(BODY, SECRET, T)).toBe('secrets');
    expect(sign(BODY, [SECRET], T + 0.5)).toBe('timestamp');
    expect(sign(BODY, [SECRET], -1)).toBe('timestamp');
    expect(sign(BODY, [SECRET], `${T}`)).toBe('timestamp');
    expect(sign({ id: 'evt_1' }, [SECRET], T)).toBe('body');
    // Valid calls still pass.
    expect(verify({ now, toleranceSeconds: 0 })).toBe('accepted');
    expect(verify({ now }, [SECRET])).toBe('accepted');
    expect(sign(new Uint8Array([123, 125]), [SECRET], 0)).toBe('accepted');
  });

  it('accepts any of several v1 signatures and any of several secrets (rotation)', () => {
    const next = 'whsec_next_fedcba9876543210';
    const both = signatureHeader(BODY, [next, SECRET], T);
    expect(outcome(BODY, both, SECRET)).toBe('accepted');
    expect(outcome(BODY, both, next)).toBe('accepted');
    expect(outcome(BODY, signatureHeader(BODY, [SECRET], T), [next, SECRET])).toBe('accepted');
    expect(outcome(BODY, signatureHeader(BODY, [next], T), SECRET)).toBe('no_valid_signature');
  });

  it('refuses any alteration of the body, the signature or the timestamp, and any other secret (property)', () => {
    const header = signatureHeader(BODY, [SECRET], T);
    const v1 = header.slice(header.indexOf('v1=') + 3);
    const flipChar = (text: string, index: number, alphabet: string) => {
      const i = index % text.length;
      const c = text[i]!;
      const replacement = alphabet[(alphabet.indexOf(c) + 1) % alphabet.length] ?? alphabet[0]!;
      return text.slice(0, i) + replacement + text.slice(i + 1);
    };
    const tampering = fc.oneof(
      // A body changed anywhere: one character, or text added or cut.
      fc
        .nat()
        .map((i) => ({ body: flipChar(BODY, i, 'abcdefghijklmnopqrstuvwxyz0123456789"{}:,_'), header })),
      fc.string({ minLength: 1 }).map((extra) => ({ body: BODY + extra, header })),
      fc.nat({ max: BODY.length - 1 }).map((n) => ({ body: BODY.slice(0, n), header })),
      // The signature changed in one hex digit.
      fc.nat().map((i) => ({ body: BODY, header: `t=${T},v1=${flipChar(v1, i, '0123456789abcdef')}` })),
      // Signed by someone without the secret.
      fc
        .string({ minLength: 1, maxLength: 40 })
        .filter((s) => s !== SECRET)
        .map((other) => ({ body: BODY, header: signatureHeader(BODY, [other], T) })),
      // Re-dated within the tolerance, keeping the old signature.
      fc
        .integer({ min: -300, max: 300 })
        .filter((d) => d !== 0)
        .map((d) => ({ body: BODY, header: `t=${T + d},v1=${v1}` })),
    );
    fc.assert(
      fc.property(tampering, ({ body, header: h }) => {
        expect(['no_valid_signature', 'malformed_header']).toContain(outcome(body, h));
      }),
      fcOptions({ runs: 500 }),
    );
  });

  it('accepts every body signed with the secret within the tolerance (property)', () => {
    fc.assert(
      fc.property(fc.json(), fc.integer({ min: -300, max: 300 }), (body, skew) => {
        expect(outcome(body, signatureHeader(body, [SECRET], T + skew))).toBe('accepted');
      }),
      fcOptions({ runs: 200 }),
    );
  });
});
