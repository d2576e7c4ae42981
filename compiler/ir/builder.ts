import type { DType } from "./dtype.js";
import { irAssert } from "./errors.js";
import type { Node } from "./node.js";
import { factorial, permutationMatrices } from "./permutations.js";
import { PrimitiveBuilder, type Operand } from "./primitive-builder.js";
import { formatShape, type Dim } from "./shape.js";

export { type Operand, type BuilderOptions } from "./primitive-builder.js";

/**
 * The builder a lowering uses: every primitive, plus the builtins of design §2.2 that
 * are compositions, expanded here into primitives (the interpreter, autodiff and code
 * generators never see them).
 *
 * Batching convention. Constraint graphs run over a leading batch of tokens: a logical
 * `[n, n]` value is a `[...batch, n, n]` tensor. Matrix helpers count axes from the end,
 * so they work unchanged. A helper that reduces a whole logical value (`sumAll`, `norm`)
 * takes `batchDims` and returns shape `[...batch]`. Before a binary op between two
 * batched values of different logical rank, lift the lower one with
 * `liftRank(x, batchDims, rank)` (unit axes go right after the batch, so numpy
 * broadcasting lines up logical axes). Unbatched values (`eye`, `perms`, literals)
 * broadcast from the right without lifting.
 */
export class Builder extends PrimitiveBuilder {
  /** `clamp(x, lo, hi)` = `min(max(x, lo), hi)`. */
  clamp(x: Node, lo: Operand, hi: Operand): Node {
    return this.min(this.max(x, lo), hi);
  }

  /** Matrix transpose of the last two axes (`.T` in the language; torch's `.mT`). */
  mT(x: Node): Node {
    const rank = x.shape.length;
    irAssert(rank >= 2, () => `.T needs a matrix, got ${formatShape(x.shape)}`);
    const perm = x.shape.map((_, i) => i);
    perm[rank - 2] = rank - 1;
    perm[rank - 1] = rank - 2;
    return this.transpose(x, perm);
  }

  /** Inserts a unit axis at `axis` (counted like numpy `expand_dims`). */
  unsqueeze(x: Node, axis: number): Node {
    const rank = x.shape.length + 1;
    const at = axis < 0 ? axis + rank : axis;
    irAssert(at >= 0 && at < rank, `unsqueeze: axis ${axis} out of range`);
    return this.reshape(x, [...x.shape.slice(0, at), 1, ...x.shape.slice(at)]);
  }

  /** Gives a batched value `rank` logical axes by inserting unit axes after the batch. */
  liftRank(x: Node, batchDims: number, rank: number): Node {
    const logical = x.shape.length - batchDims;
    irAssert(logical >= 0 && logical <= rank, `liftRank: cannot lift ${formatShape(x.shape)} to logical rank ${rank}`);
    if (logical === rank) return x;
    const ones = new Array<Dim>(rank - logical).fill(1);
    return this.reshape(x, [...x.shape.slice(0, batchDims), ...ones, ...x.shape.slice(batchDims)]);
  }

  /** Consecutive slices of sizes `sizes` along `axis` (splits `[T, k_pre + k_post + k_res]`). */
  split(x: Node, axis: number, sizes: readonly number[]): Node[] {
    const parts: Node[] = [];
    let start = 0;
    for (const size of sizes) {
      parts.push(this.slice(x, axis, start, start + size));
      start += size;
    }
    return parts;
  }

  // ---- matrix builtins: sum/max/softmax over rows or columns, keepdims ----------

  /** `rowsum(M)`: `sum(M, axes=[-1], keepdims)`; `[n, n]` -> `[n, 1]`. */
  rowsum(m: Node): Node { return this.sum(m, [-1], true); }
  /** `colsum(M)`: `sum(M, axes=[-2], keepdims)`; `[n, n]` -> `[1, n]`. */
  colsum(m: Node): Node { return this.sum(m, [-2], true); }
  /** `rowmax(M)`: `amax(M, axes=[-1], keepdims)`. */
  rowmax(m: Node): Node { return this.amax(m, [-1], true); }
  /** `colmax(M)`: `amax(M, axes=[-2], keepdims)`. */
  colmax(m: Node): Node { return this.amax(m, [-2], true); }
  /** `softmax_rows(M)`: `softmax(M, axis=-1)`; each row sums to 1. */
  softmaxRows(m: Node): Node { return this.softmax(m, -1); }
  /** `softmax_cols(M)`: `softmax(M, axis=-2)`; each column sums to 1. */
  softmaxCols(m: Node): Node { return this.softmax(m, -2); }
  /** `logsumexp_rows(M)`: `logsumexp(M, axes=[-1], keepdims)`. */
  logsumexpRows(m: Node): Node { return this.logsumexp(m, [-1], true); }
  /** `logsumexp_cols(M)`: `logsumexp(M, axes=[-2], keepdims)`. */
  logsumexpCols(m: Node): Node { return this.logsumexp(m, [-2], true); }

  // ---- whole-value reductions (language `sum`, `mean`, `norm`) ------------------

  private logicalAxes(x: Node, batchDims: number): number[] {
    irAssert(batchDims >= 0 && batchDims <= x.shape.length, `batchDims ${batchDims} exceeds rank of ${formatShape(x.shape)}`);
    return x.shape.slice(batchDims).map((_, i) => i + batchDims);
  }

  /** `sum(x)`: `sum` over every non-batch axis -> `[...batch]`. */
  sumAll(x: Node, batchDims = 0): Node { return this.sum(x, this.logicalAxes(x, batchDims)); }
  /** `mean(x)`: `mean` over every non-batch axis -> `[...batch]`. */
  meanAll(x: Node, batchDims = 0): Node { return this.mean(x, this.logicalAxes(x, batchDims)); }
  /** `norm(x)` (Frobenius): `sqrt(sum(square(x)))` over every non-batch axis -> `[...batch]`. */
  norm(x: Node, batchDims = 0): Node { return this.sqrt(this.sumAll(this.square(x), batchDims)); }

  // ---- constructors -----------------------------------------------------------

  /** `perms(n)`: a `const` `[n!, n, n]`, lexicographic; matrix p has 1 at [i, sigma_p(i)]. */
  perms(n: number, dtype: DType = this.dtype): Node {
    return this.constant(permutationMatrices(n), [factorial(n), n, n], dtype);
  }

  /**
   * `combine(w, B)` = `sum_k w[k] * B[k]`: `w` is `[...batch, K]`, `B` is `[K, r, c]`
   * (or batched `[...batch, K, r, c]`). Expands to `sum(mul(reshape(w, [..., K, 1, 1]), B), axes=[-3])`.
   */
  combine(w: Node, stack: Node): Node {
    const k = w.shape[w.shape.length - 1];
    const sk = stack.shape[stack.shape.length - 3];
    irAssert(k !== undefined && k === sk, () => `combine: weights ${formatShape(w.shape)} do not match stack ${formatShape(stack.shape)}`);
    const wCol = this.reshape(w, [...w.shape, 1, 1]);
    return this.sum(this.mul(wCol, stack), [-3]);
  }
}
