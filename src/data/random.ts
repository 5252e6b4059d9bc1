// The data pipeline's randomness: xoshiro128** (Blackman & Vigna), a small fast generator whose whole
// state is four 32-bit words, so it saves to JSON and resumes exactly. Streams are derived from keys
// (seed, epoch, batch, position, ...) by hashing, so that what a sample gets never depends on which
// worker prepared it or on what was drawn before it.

/**
 * The first key of every stream, one per use, so that the same seed never gives two uses the same
 * stream (a sampler's epoch 3 and the augmentation of batch 3 are unrelated).
 */
export const STREAM = { longTail: 1, sampler: 2, augmentation: 3, mixing: 4 } as const;

/** A generator's complete state: four unsigned 32-bit words, not all zero. JSON as it is. */
export type RngState = readonly [number, number, number, number];

const TWO_POW_32 = 0x1_0000_0000;

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A 32-bit integer mixer (lowbias32, Chris Wellons): every input bit affects every output bit. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

function assertKey(key: number): void {
  if (!Number.isSafeInteger(key) || key < 0) throw new RangeError(`random stream key must be a non-negative safe integer, got ${key}`);
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private constructor(state: RngState) {
    if (state.length !== 4 || state.some((word) => !Number.isInteger(word) || word < 0 || word >= TWO_POW_32)) {
      throw new RangeError(`an Rng state is four unsigned 32-bit integers, got ${JSON.stringify(state)}`);
    }
    if (state.every((word) => word === 0)) throw new RangeError('an Rng state must not be all zeros');
    [this.s0, this.s1, this.s2, this.s3] = state;
  }

  /**
   * The stream named by `keys` (non-negative safe integers, for example seed, epoch, batch, position):
   * equal keys give equal streams, and different keys give independent-looking ones. Each state word
   * is its own hash of the keys (four lanes), so all 128 bits of state depend on the keys.
   */
  static fromKeys(...keys: number[]): Rng {
    const state: number[] = [];
    for (let lane = 0; lane < 4; lane++) {
      let hash = mix32(0x9e3779b9 + lane * 0x632be5ab);
      for (const key of keys) {
        assertKey(key);
        hash = mix32(hash ^ (key >>> 0));
        hash = mix32(hash ^ Math.floor(key / TWO_POW_32));
      }
      state.push(hash);
    }
    // An all-zero state is a fixed point of xoshiro; four hashes all zero would need a 2^-128 accident.
    if (!state.some((word) => word !== 0)) state[0] = 1;
    return new Rng(state as unknown as RngState);
  }

  static fromState(state: RngState): Rng {
    return new Rng(state);
  }

  getState(): RngState {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** The next unsigned 32-bit output (xoshiro128**). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform on [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Uniform on [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.nextFloat();
  }

  /** A standard normal draw (Box-Muller from two uniform draws; the second value is not kept, so the state stays four words). */
  normal(): number {
    const u = 1 - this.nextFloat(); // in (0, 1]: the logarithm is finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.nextFloat());
  }

  /** A uniform integer in [0, n); n a positive integer up to 2^32 (bias below 2^-21). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) throw new RangeError(`nextInt(n) needs an integer 1 <= n <= 2^32, got ${n}`);
    return Math.floor(this.nextFloat() * n);
  }

  /** Shuffles `values` in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [index: number]: number }>(values: T): T {
    for (let i = values.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const swap = values[i]!;
      values[i] = values[j]!;
      values[j] = swap;
    }
    return values;
  }
}
