/** The least entropy a session id must carry (ASVS 5.0 7.2.3). */
export const MIN_ID_ENTROPY_BITS = 128;

/**
 * Below this, ids are guessable (ASVS 4.0 3.2.2 and the OWASP cheat sheet ask for 64 bits): an
 * attacker takes sessions. Between it and `MIN_ID_ENTROPY_BITS` (a UUIDv4's 122 bits), ids miss
 * ASVS 5.0 without being guessable: a hardening finding.
 */
export const GUESSABLE_ID_BITS = 64;

export interface IdEntropyEstimate {
  /** Estimated bits of entropy per id (an upper bound: a CSPRNG is not proven, only not refuted). */
  bits: number;
  /** The alphabet inferred from the characters at varying positions, e.g. `base64url (64)`. */
  alphabet: string;
  alphabetSize: number;
  /** The shortest id length in the sample; positions past it are not credited. */
  length: number;
  /** Positions whose characters never changed across the sample (prefixes, separators). */
  constantPositions: number;
  /** Positions that varied much less than random characters would. */
  lowVarietyPositions: number;
  /** How many ids came back more than once. */
  repeats: number;
  /** Set when the ids read as numbers that grow in small steps (a counter, a clock). */
  sequential?: string;
}

const ALPHABETS: ReadonlyArray<[name: string, chars: string]> = [
  ['decimal', '0123456789'],
  ['hex', '0123456789abcdef'],
  ['hex', '0123456789ABCDEF'],
  ['base36', '0123456789abcdefghijklmnopqrstuvwxyz'],
  ['alphanumeric', '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'],
  ['base64url', '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_'],
  ['base64', '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/'],
];

/** How many distinct symbols n uniform draws from an alphabet of size a show, on average. */
function expectedDistinct(a: number, n: number): number {
  return a * (1 - Math.pow(1 - 1 / a, n));
}

/**
 * Estimates the entropy of session ids from a sample of fresh ones, black-box: positions that
 * never vary count nothing, positions that vary like uniform random characters count
 * log2(alphabet), positions that vary less count log2(distinct symbols seen + 1). It cannot prove
 * randomness, but it refutes short ids, counters, timestamps and fixed structure (a UUIDv4
 * scores its real 122 bits).
 *
 * @example
 * const estimate = estimateIdEntropy(ids);
 * if (estimate.bits < MIN_ID_ENTROPY_BITS || estimate.repeats) console.log('weak ids');
 */
export function estimateIdEntropy(ids: readonly string[]): IdEntropyEstimate {
  const n = ids.length;
  const length = n === 0 ? 0 : Math.min(...ids.map((id) => id.length));
  const columns: Array<Set<string>> = Array.from({ length }, () => new Set());
  for (const id of ids) for (let i = 0; i < length; i++) columns[i]?.add(id.charAt(i));

  const varying = new Set<string>();
  for (const column of columns) if (column.size > 1) for (const ch of column) varying.add(ch);
  const [alphabet, alphabetSize] = inferAlphabet(varying);

  let bits = 0;
  let constantPositions = 0;
  let lowVarietyPositions = 0;
  const expected = expectedDistinct(alphabetSize, n);
  for (const column of columns) {
    if (column.size <= 1) {
      constantPositions++;
    } else if (column.size >= expected / 2) {
      bits += Math.log2(alphabetSize);
    } else {
      // A small sample can miss a symbol of a position that takes few (a UUID's variant nibble,
      // 4 values, shows 3 in 16 draws one time in 25): credit one unseen symbol, so a genuine
      // id is not failed by chance; a structure that really varies less still scores low.
      lowVarietyPositions++;
      bits += Math.log2(Math.min(alphabetSize, column.size + 1));
    }
  }
  const estimate: IdEntropyEstimate = {
    bits: Math.floor(bits),
    alphabet: `${alphabet} (${alphabetSize})`,
    alphabetSize,
    length,
    constantPositions,
    lowVarietyPositions,
    repeats: n - new Set(ids).size,
  };
  const sequential = detectSequence(ids);
  if (sequential) estimate.sequential = sequential;
  return estimate;
}

function inferAlphabet(chars: ReadonlySet<string>): [string, number] {
  if (chars.size === 0) return ['none', 1];
  for (const [name, alphabet] of ALPHABETS) {
    if ([...chars].every((ch) => alphabet.includes(ch))) return [name, alphabet.length];
  }
  return ['observed characters', chars.size];
}

/** Ids that parse as numbers (decimal or hex) and differ by small steps are predictable. */
function detectSequence(ids: readonly string[]): string | undefined {
  if (ids.length < 3) return undefined;
  const radix = ids.every((id) => /^\d{1,40}$/.test(id)) ? 10 : ids.every((id) => /^[0-9a-f]{1,40}$/i.test(id)) ? 16 : 0;
  if (radix === 0) return undefined;
  const values = ids.map((id) => (radix === 10 ? BigInt(id) : BigInt(`0x${id}`))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const span = (values.at(-1) as bigint) - (values[0] as bigint);
  // Random values spread over the range their length allows (a sample of 3 or more covers half
  // of it, most often far more); ids issued in one run by a counter or a clock fit in a tiny
  // window of it. 2^48 leaves room for nanosecond clocks over a long run; the range keeps short
  // random ids (48 random bits: guessable, but no counter) from reading as one.
  const range = BigInt(radix) ** BigInt(Math.max(...ids.map((id) => id.length)));
  if (span < 1n << 48n && span * 16n < range) {
    return `the ids read as ${radix === 10 ? 'decimal' : 'hexadecimal'} numbers that all fall within a span of ${span} — a counter or a clock, predictable from one sample`;
  }
  return undefined;
}
