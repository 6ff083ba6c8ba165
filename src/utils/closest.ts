/**
 * "Did you mean": the known name nearest to a mistyped one (Levenshtein distance).
 *
 * @module
 */

/**
 * The Levenshtein distance of two strings: the fewest one-character insertions, deletions and
 * substitutions that turn one into the other.
 *
 * @param a one string
 * @param b the other
 * @returns the distance (0 when equal)
 */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const here = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = here;
    }
  }
  return row[b.length];
}

/**
 * The candidates nearest to a name, nearest first, case ignored; only those within
 * `max(2, length / 3)` edits unless `always` asks for the nearest one whatever its distance.
 *
 * @param name the unknown name
 * @param candidates the known names
 * @param always give the nearest candidate even when it is far
 * @returns the near candidates, nearest first (ties in the candidates' order)
 */
export function closestNames(
  name: string,
  candidates: Iterable<string>,
  always = false,
): string[] {
  const lower = name.toLowerCase();
  const limit = Math.max(2, Math.floor(name.length / 3));
  const scored = [...candidates].map((candidate, index) => ({
    candidate,
    index,
    d: editDistance(lower, candidate.toLowerCase()),
  }));
  scored.sort((a, b) => a.d - b.d || a.index - b.index);
  const near = scored.filter((s) => s.d <= limit).map((s) => s.candidate);
  return near.length === 0 && always && scored.length > 0 ? [scored[0].candidate] : near;
}
