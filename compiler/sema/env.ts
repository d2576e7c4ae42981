import type { Span } from "../source/span.js";
import type { Value } from "./values.js";

export type BindingKind = "stream-count" | "param" | "let" | "layer" | "connection-param";

export interface Binding {
  readonly kind: BindingKind;
  value: Value;
  /** Where the name was introduced, for "declared here" labels. */
  readonly span?: Span;
  /** Reassigned inside a loop: its compile-time value is no longer known. */
  varies?: boolean;
  /** Read at least once (for the unused-variable warning). */
  used?: boolean;
}

/** A lexical scope: a constraint body, a `repeat` body, a connection's fields. */
export class Env {
  private readonly vars = new Map<string, Binding>();

  constructor(private readonly parent?: Env) {}

  lookup(name: string): Binding | undefined {
    return this.vars.get(name) ?? this.parent?.lookup(name);
  }

  /** Defined in this scope or an enclosing one. */
  has(name: string): boolean {
    return this.lookup(name) !== undefined;
  }

  define(name: string, binding: Binding): void {
    this.vars.set(name, binding);
  }

  child(): Env {
    return new Env(this);
  }

  /** Every visible name, innermost first, for "did you mean" suggestions. */
  names(): string[] {
    const own = [...this.vars.keys()];
    return this.parent ? [...own, ...this.parent.names().filter((n) => !this.vars.has(n))] : own;
  }
}
