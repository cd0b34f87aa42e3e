/**
 * `digits` without its trailing zeros ("2500" → "25", "000" → ""). A loop, not
 * `replace(/0+$/, '')`: that expression restarts at every zero of a run that is not at the
 * end, so a value of tens of thousands of zeros before a last digit took seconds of the event
 * loop (quadratic); this is linear.
 */
export function withoutTrailingZeros(digits: string): string {
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 48) end--;
  return end === digits.length ? digits : digits.slice(0, end);
}
