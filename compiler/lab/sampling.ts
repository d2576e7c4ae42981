/**
 * Seeded random numbers for the constraint laboratory: deterministic across
 * platforms and Node versions (integer arithmetic only, no `Math.random`), so a
 * report is reproducible from its seed.
 *
 * Streams are named: `streamSeed(seed, "gain", "4x4")` gives an independent
 * stream per purpose and logits shape, so adding a constraint or a scale to a
 * run never changes the numbers drawn for the others, and two constraints
 * whose logits have the same shape see exactly the same logits.
 */

/** FNV-1a over the UTF-16 code units of `text`, 32 bits. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A 32-bit seed for the stream named by `parts` under the user's `seed`. */
export function streamSeed(seed: number, ...parts: readonly (string | number)[]): number {
  return fnv1a([String(seed), ...parts.map(String)].join("\u0000"));
}

/** xoshiro128** (Blackman and Vigna), state filled by splitmix32 from one 32-bit seed. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | undefined;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in the open interval (0, 1): never 0, so `log` is safe. */
  uniform(): number {
    return (this.nextUint32() + 0.5) / 4294967296;
  }

  /** A standard normal deviate (Box-Muller; the second value of each pair is kept for the next call). */
  gaussian(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** `count` standard normal deviates. */
  gaussians(count: number): Float64Array {
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = this.gaussian();
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** `count` Gaussian values from the named stream. */
export function gaussianStream(count: number, seed: number, ...parts: readonly (string | number)[]): Float64Array {
  return new Rng(streamSeed(seed, ...parts)).gaussians(count);
}

/**
 * `count` random directions of `size` values, each of unit Euclidean norm
 * (a normalised Gaussian vector: uniform on the sphere).
 */
export function unitDirections(count: number, size: number, seed: number, ...parts: readonly (string | number)[]): Float64Array {
  const out = gaussianStream(count * size, seed, ...parts);
  for (let c = 0; c < count; c++) {
    let s = 0;
    for (let i = 0; i < size; i++) s += out[c * size + i]! ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let i = c * size; i < (c + 1) * size; i++) out[i] = out[i]! * inv;
  }
  return out;
}
