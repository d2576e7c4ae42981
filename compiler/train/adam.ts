import * as tf from "@tensorflow/tfjs-core";

/** Adam's hyper-parameters; the defaults are tfjs's (`tf.train.adam`: epsilon is float32's 1e-7). */
export interface AdamConfig {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
}

export const ADAM_DEFAULTS = { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } as const;

/** What a checkpoint stores of the optimizer: the moments (in the variables' order) and the update count. */
export interface AdamState {
  readonly step: number;
  readonly m: readonly Float32Array[];
  readonly v: readonly Float32Array[];
}

/**
 * Adam (Kingma and Ba), the update `tf.train.adam` makes, written out so that its
 * whole state can be saved and restored exactly: the first and second moments and
 * the number of updates. The bias corrections 1 - beta^t are computed from that
 * count in float64, not accumulated in float32 variables as tfjs does, so a resumed
 * run continues bit for bit.
 *
 *   m = beta1 m + (1 - beta1) g        v = beta2 v + (1 - beta2) g^2
 *   p = p - lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
 */
export class Adam {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private count: number;

  constructor(
    private readonly params: readonly tf.Variable[],
    readonly config: AdamConfig,
    state?: AdamState,
  ) {
    if (state && (state.m.length !== params.length || state.v.length !== params.length)) throw new Error("Adam: the saved moments do not match the parameters");
    const moment = (p: tf.Variable, saved: Float32Array | undefined) =>
      tf.variable(saved ? tf.tensor(saved, p.shape, "float32") : tf.zerosLike(p), false);
    this.m = params.map((p, i) => tf.tidy(() => moment(p, state?.m[i])));
    this.v = params.map((p, i) => tf.tidy(() => moment(p, state?.v[i])));
    this.count = state?.step ?? 0;
  }

  /** The number of updates made (t). */
  get step(): number {
    return this.count;
  }

  /**
   * One update of every parameter from its gradient (same order as the parameters). A
   * parameter the loss does not depend on has no gradient (undefined) and is left as
   * it is, moments included, as `tf.train.adam` does.
   */
  apply(grads: readonly (tf.Tensor | undefined)[]): void {
    if (grads.length !== this.params.length) throw new Error("Adam: one gradient per parameter is needed");
    this.count += 1;
    const { lr, beta1, beta2, epsilon } = this.config;
    const c1 = 1 - Math.pow(beta1, this.count);
    const c2 = 1 - Math.pow(beta2, this.count);
    tf.tidy(() => {
      const b1 = tf.scalar(beta1);
      const b2 = tf.scalar(beta2);
      const ob1 = tf.scalar(1 - beta1);
      const ob2 = tf.scalar(1 - beta2);
      const s1 = tf.scalar(c1);
      const s2 = tf.scalar(c2);
      const eps = tf.scalar(epsilon);
      const step = tf.scalar(-lr);
      this.params.forEach((p, i) => {
        const g = grads[i];
        if (g === undefined) return;
        const m = tf.add(tf.mul(this.m[i]!, b1), tf.mul(g, ob1));
        const v = tf.add(tf.mul(this.v[i]!, b2), tf.mul(tf.square(g), ob2));
        this.m[i]!.assign(m);
        this.v[i]!.assign(v);
        p.assign(tf.add(tf.mul(tf.div(tf.div(m, s1), tf.add(tf.sqrt(tf.div(v, s2)), eps)), step), p));
      });
    });
  }

  /** The state as float32 arrays (a copy), for a checkpoint. */
  state(): AdamState {
    return { step: this.count, m: this.m.map((t) => t.dataSync() as Float32Array), v: this.v.map((t) => t.dataSync() as Float32Array) };
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}
