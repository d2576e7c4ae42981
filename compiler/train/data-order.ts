import { mulberry32 } from "../random.js";
import { sampleWindows } from "./corpus.js";

/** mulberry32 adds this to its 32-bit state before every draw. */
const MULBERRY32_INCREMENT = 0x6d2b79f5;

/**
 * The order in which training windows are drawn: a mulberry32 stream whose whole
 * state is one 32-bit integer, so a checkpoint can store it and a resumed run draws
 * exactly the windows the uninterrupted run would have drawn.
 *
 * mulberry32(s) first moves its state to s + increment and derives the number from
 * that; so after k draws from seed s the state is s + k * increment (mod 2^32), and
 * mulberry32(state) continues the same sequence.
 */
export class DataOrder {
  private current: number;
  private random: () => number;

  private constructor(state: number) {
    this.current = state >>> 0;
    this.random = mulberry32(this.current);
  }

  /** The stream of a training seed (the same one `mhc train` has always used). */
  static fromSeed(seed: number): DataOrder {
    return new DataOrder(seed * 2654435761 + 1);
  }

  /** The stream continuing from a state that `state` returned. */
  static fromState(state: number): DataOrder {
    if (!Number.isInteger(state) || state < 0 || state > 0xffffffff) throw new RangeError(`a data-order state is a 32-bit unsigned integer, not ${state}`);
    return new DataOrder(state);
  }

  /** The generator's state: everything needed to continue the stream. */
  state(): number {
    return this.current;
  }

  /** A uniform number in [0, 1). */
  next(): number {
    this.current = (this.current + MULBERRY32_INCREMENT) >>> 0;
    return this.random();
  }

  /** `batch` random windows of `window` bytes of `text`, int32 [batch * window] row-major. */
  windows(text: Uint8Array, batch: number, window: number): Int32Array {
    return sampleWindows(text, batch, window, () => this.next());
  }
}
