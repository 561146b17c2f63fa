/** `TALLY_SOAK=<n>` (or `1` for 10) multiplies the operation counts of the bounded stress tests. */
export function soak(): number {
  const raw = process.env.TALLY_SOAK;
  if (raw === undefined || raw === '' || raw === '0') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`TALLY_SOAK must be a positive integer, got ${raw}`);
  return n === 1 ? 10 : n;
}
