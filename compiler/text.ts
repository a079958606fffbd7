/** Small string helpers for the compiler's hot paths (a lock and a command line are read and written on every build). */

/**
 * `text.split(sep)` for a one-character `sep`, by `indexOf`: the same parts, but V8's `split` is
 * a runtime call that costs more than the loop on the short lines of a lock or an option value.
 */
export function splitAt(text: string, sep: string): string[] {
  const out: string[] = [];
  let from = 0;
  for (let at = text.indexOf(sep); at >= 0; at = text.indexOf(sep, from)) {
    out.push(text.slice(from, at));
    from = at + 1;
  }
  out.push(text.slice(from));
  return out;
}

const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** 0..255 as two lower-case hex digits (`n.toString(16).padStart(2, '0')`, from a table); any other number as that expression gives it. */
export const hex2 = (n: number): string => HEX2[n] ?? n.toString(16).padStart(2, '0');
