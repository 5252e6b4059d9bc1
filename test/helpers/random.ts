// A small deterministic generator for test data and test schedules (not libtorch's): the same numbers everywhere.

/** glibc's old rand() recurrence, scaled to [0, 1). */
export function lcg(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}
