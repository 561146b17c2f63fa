import fc from 'fast-check';

/**
 * Generators of garbage: values that some field of the public API must refuse. Each generator makes
 * only values that are invalid for the field it is meant for, so "refused" is always the right answer.
 */

const SQL = [
  "'; DROP TABLE events; --",
  "1' OR '1'='1",
  'cus_1; DELETE FROM events',
  "cus_1' --",
  'cus_1"); DROP TABLE tally.events; --',
  "') OR 1=1 --",
  'x UNION SELECT * FROM pg_shadow',
  '%',
  '_%',
  '\\',
  "\\'",
  '$1',
  '?',
  '*/ SELECT 1 /*',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template injection attempt, on purpose
  '${process.exit()}',
] as const;

/** SQL-looking text that is valid as free text (metadata values, reasons) and must be stored verbatim. */
export const sqlText = fc.oneof(
  fc.constantFrom(...SQL),
  fc.tuple(fc.constantFrom(...SQL), fc.string({ maxLength: 20 })).map(([a, b]) => a + b),
);

/** Anything that is not a string. */
export const nonString = (options: { nullish: boolean } = { nullish: true }) =>
  fc.oneof(
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.bigInt(),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.object({ maxDepth: 1 }),
    fc.constant(Symbol('hostile')),
    fc.date(),
    fc.func(fc.anything()),
    fc.constant(new Map([['a', 'b']])),
    fc.constant(new String('cus_1')),
    ...(options.nullish ? [fc.constant(null), fc.constant(undefined)] : []),
  );

/** Anything that is not a number. */
export const nonNumber = (options: { nullish: boolean } = { nullish: true }) =>
  fc.oneof(
    fc.string({ maxLength: 10 }),
    fc.constantFrom('1', '1e3', '0x10', ' 2 ', 'Infinity', 'NaN'),
    fc.boolean(),
    fc.bigInt(),
    fc.constant(1n),
    fc.constant(new Number(1)),
    fc.array(fc.integer(), { maxLength: 2 }),
    fc.object({ maxDepth: 1 }),
    fc.date(),
    ...(options.nullish ? [fc.constant(null), fc.constant(undefined)] : []),
  );

const ID_CHAR = fc.constantFrom(...'abcxyzABC0189_.:@-'.split(''));
const validIdText = fc.string({ unit: ID_CHAR, minLength: 1, maxLength: 20 }).map((s) => `a${s}`);
const BAD_ID_CHARS = [
  ' ',
  "'",
  '"',
  ';',
  '\u0000',
  '/',
  '\\',
  '%',
  '*',
  '(',
  '=',
  '\n',
  '\t',
  'é',
  '🙂',
  '\uD800',
  '\u202E',
  '#',
  '?',
  ',',
  '$',
];

/** Strings and non-strings that are not ids at all: empty, too long, forbidden characters, SQL. */
export const malformedId = (options: { nullish: boolean } = { nullish: true }) =>
  fc.oneof(
    nonString(options),
    fc.constant(''),
    fc.constantFrom(...SQL.filter((s) => !/^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/.test(s))),
    fc.constantFrom('__proto__', '_cus', '-cus', '.cus', ':cus', '@cus', 'cus_1 ', ' cus_1', 'ｃｕｓ_1'),
    fc.string({ unit: ID_CHAR, minLength: 129, maxLength: 400 }).map((s) => `a${s}`),
    fc
      .tuple(validIdText, fc.constantFrom(...BAD_ID_CHARS), fc.string({ unit: ID_CHAR, maxLength: 5 }))
      .map(([a, bad, b]) => a + bad + b),
  );

/** Well-formed ids that name nothing the fixture created (including names of Object.prototype members). */
export const unknownId = (known: ReadonlySet<string>) =>
  fc
    .oneof(
      fc.constantFrom(
        'constructor',
        'toString',
        'hasOwnProperty',
        'valueOf',
        'prototype',
        'x--',
        '1--',
        'DROP:TABLE',
        'a@b.c',
      ),
      validIdText,
      fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/),
    )
    .filter((s) => !known.has(s));

/** Quantities no call may accept: not finite, not positive, past 1e15, or not numbers. */
export const badQuantity = (options: { nullish: boolean } = { nullish: true }) =>
  fc.oneof(
    nonNumber(options),
    fc.constantFrom(
      0,
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      -1,
      -Number.MIN_VALUE,
    ),
    fc.constantFrom(1e15 + 2, 1e16, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, 2 ** 53 + 1, 1e300),
    fc.double({ max: 0, noNaN: true }),
    fc.double({ min: 1.0000001e15, noNaN: true }),
  );

/**
 * Amount strings invalid for a currency with `decimals` places: wrong shape, signs, exponents, too many
 * places, more than 18 integer digits, and zero when the field must be positive.
 */
export const badAmount = (decimals: number, options: { zero: boolean; nullish: boolean }) =>
  fc.oneof(
    nonString({ nullish: options.nullish }),
    fc.constantFrom(
      '',
      '-1',
      '+1',
      '1e3',
      '1E3',
      ' 1',
      '1 ',
      '1.',
      '.5',
      '0x1F',
      'NaN',
      'Infinity',
      '1,000',
      '١٢',
      '01',
      '00.5',
      '1_000',
      '--1',
      '1..2',
      '½',
    ),
    fc.constantFrom(...SQL),
    fc.integer({ min: 19, max: 200 }).map((n) => `9${'0'.repeat(n - 1)}`),
    fc.constant('1000000000000000000'),
    fc
      .tuple(
        fc.nat({ max: 1000 }),
        fc.string({
          unit: fc.constantFrom(...'0123456789'.split('')),
          minLength: decimals + 1,
          maxLength: decimals + 30,
        }),
      )
      .map(([whole, fraction]) => `${whole}.${fraction}`),
    fc.double({ max: -Number.MIN_VALUE, noNaN: true }).map((n) => String(n)),
    ...(options.zero ? [fc.constantFrom('0', decimals > 0 ? `0.${'0'.repeat(decimals)}` : '0')] : []),
  );

/** Times no call may accept: wrong types, impossible dates, outside 1970..9999, no time zone. */
export const malformedTime = (options: { nullish: boolean } = { nullish: true }) =>
  fc.oneof(
    fc.oneof(
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.bigInt(),
      fc.object({ maxDepth: 1 }),
      fc.array(fc.integer(), { maxLength: 2 }),
      ...(options.nullish ? [fc.constant(null), fc.constant(undefined)] : []),
    ),
    fc.constantFrom(
      '',
      'now',
      'yesterday',
      'tomorrow',
      '2025-13-01',
      '2025-00-10',
      '2025-01-32',
      '2025-02-30',
      '2025-02-29',
      '2025-04-31',
      '2025-02-30T00:00:00Z',
      '2025-01-01T25:00:00Z',
      '2025-01-01T23:59:60Z',
      '2025-01-01T00:00:00',
      '10000-01-01',
      '1969-12-31T23:59:59Z',
      '0000-01-01',
      'Tue, 01 Apr 2025 00:00:00 GMT',
      '2025-01-01T00:00:00Z; DROP TABLE events',
      '1735689600000',
    ),
    fc.constantFrom(new Date(Number.NaN), new Date(-1), new Date(8.64e15), new Date(Date.UTC(10000, 0, 1))),
    fc.date({ max: new Date(-1), noInvalidDate: true }),
    fc.date({ min: new Date(Date.UTC(10000, 0, 1)), noInvalidDate: true }),
  );

/** Valid instants strictly before `ms` (as Dates and ISO strings). */
export const timeBefore = (ms: number) =>
  fc
    .integer({ min: 0, max: ms - 1 })
    .chain((t) => fc.constantFrom<Date | string>(new Date(t), new Date(t).toISOString()));

/** Free text a field must refuse: not a string, too long, or holding NUL or a lone surrogate. */
export const badText = (maxLength: number, options: { nullish: boolean }) =>
  fc.oneof(
    nonString({ nullish: options.nullish }).filter((v) => v !== undefined),
    fc.string({ minLength: maxLength + 1, maxLength: maxLength + 50 }),
    unstorableText,
  );

/** Strings no database can keep as given: NUL (Postgres text and jsonb refuse it) and unpaired surrogates. */
export const unstorableText = fc
  .tuple(
    fc.string({ maxLength: 10 }),
    fc.constantFrom('\u0000', '\uD800', '\uDFFF', '\uDBFF\u0041'),
    fc.string({ maxLength: 10 }),
  )
  .map(([a, bad, b]) => a + bad + b);

/** Metadata a write must refuse. */
export const badMetadata = fc.oneof(
  fc.oneof(
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 3 }),
  ),
  fc
    .constantFrom('__proto__', 'constructor', 'prototype')
    .chain((key) =>
      fc
        .oneof(fc.constant('"x"'), fc.constant('{"isAdmin":true}'), fc.constant('{"polluted":"yes"}'))
        .map((value) => JSON.parse(`{"ok":"fine","${key}":${value}}`) as unknown),
    ),
  fc.dictionary(
    fc.stringMatching(/^[a-z]{1,8}$/),
    nonString({ nullish: true }).filter((v) => v !== undefined),
    {
      minKeys: 1,
      maxKeys: 3,
    },
  ),
  fc
    .integer({ min: 51, max: 80 })
    .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))),
  fc.constant({ '': 'empty key' }),
  fc.integer({ min: 65, max: 200 }).map((n) => ({ [`k${'x'.repeat(n)}`]: 'long key' })),
  fc.integer({ min: 1001, max: 3000 }).map((n) => ({ big: 'v'.repeat(n) })),
  unstorableText.map((text) => ({ note: text })),
  unstorableText.map((text) => ({ [text || 'k\u0000']: 'value' })),
  fc.constantFrom(new Map([['a', 'b']]), new Date(0), new Set(['a']), [['a', 'b']]),
);

/** Idempotency keys a write must refuse (`taken` is a key the fixture used for another request). */
export const badIdempotencyKey = (taken: string) =>
  fc.oneof(
    nonString({ nullish: false }),
    fc.constant(null),
    fc.constant(''),
    fc.string({ minLength: 256, maxLength: 400 }),
    unstorableText,
    fc.constant(taken),
  );
