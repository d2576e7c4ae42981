import { isDType, type DType } from "./dtype.js";
import { IrError, irAssert } from "./errors.js";
import type { Attrs, AttrValue } from "./node.js";
import type { AttrKind, TensorType } from "./op-def.js";
import { isOpName, type OpName } from "./op-names.js";
import { OPS } from "./ops.js";
import { canonicalDim, formatShape, shapesEqual, type Shape } from "./shape.js";

/** What a node is made of before it is validated; dtypes are strings here. */
export interface NodeParts {
  readonly op: string;
  readonly inputs: readonly { readonly shape: Shape; readonly dtype: string }[];
  readonly attrs: Attrs;
  readonly shape?: Shape;
  readonly dtype?: string;
}

export interface CheckedNode {
  readonly op: OpName;
  readonly attrs: Attrs;
  readonly type: TensorType;
}

function attrHasKind(value: AttrValue, kind: AttrKind): boolean {
  switch (kind) {
    case "int":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "bool":
      return typeof value === "boolean";
    case "string":
      return typeof value === "string";
    case "ints":
      return Array.isArray(value) && value.every((v) => Number.isInteger(v));
    case "numbers":
      return Array.isArray(value) && value.every((v) => typeof v === "number");
  }
}

function checkAttrs(op: OpName, attrs: Attrs): Attrs {
  const spec = OPS[op].attrs;
  const out: Record<string, AttrValue> = {};
  for (const key of Object.keys(attrs)) {
    irAssert(key in spec, `${op}: unknown attribute "${key}"`);
  }
  for (const [key, s] of Object.entries(spec)) {
    const value = attrs[key] ?? s.default;
    irAssert(value !== undefined, `${op}: missing attribute "${key}"`);
    irAssert(attrHasKind(value, s.kind), () => `${op}: attribute "${key}" must be ${s.kind}, got ${JSON.stringify(value)}`);
    out[key] = value;
  }
  return out;
}

/**
 * Validates one node and returns its canonical attrs and result type; throws IrError.
 * The factory and the verifier both go through here, so "what is a valid node" is
 * written once.
 */
export function checkNode(parts: NodeParts): CheckedNode {
  const { op } = parts;
  irAssert(isOpName(op), `unknown op "${op}"`);
  const def = OPS[op];
  const n = parts.inputs.length;
  if (typeof def.arity === "number") irAssert(n === def.arity, `${op}: expects ${def.arity} input(s), got ${n}`);
  else irAssert(n >= def.arity.min, `${op}: expects at least ${def.arity.min} input(s), got ${n}`);

  const inputs: TensorType[] = parts.inputs.map((t, i) => {
    irAssert(isDType(t.dtype), `${op}: input ${i} has unknown dtype "${t.dtype}"`);
    return { shape: t.shape, dtype: t.dtype };
  });
  const declaresShape = def.declares === "shape" || def.declares === "both";
  const declaresDtype = def.declares === "dtype" || def.declares === "both";
  irAssert(!declaresShape || parts.shape !== undefined, `${op}: needs a declared shape`);
  irAssert(!declaresDtype || parts.dtype !== undefined, `${op}: needs a declared dtype`);
  irAssert(parts.dtype === undefined || isDType(parts.dtype), `${op}: unknown dtype "${parts.dtype}"`);
  const declaredShape = parts.shape?.map(canonicalDim);
  const declaredDtype = parts.dtype as DType | undefined;

  let attrs = checkAttrs(op, parts.attrs);
  if (def.canonicalize) attrs = def.canonicalize(attrs, inputs);
  const type = def.infer({
    inputs,
    attrs,
    declared: { ...(declaresShape ? { shape: declaredShape } : {}), ...(declaresDtype ? { dtype: declaredDtype } : {}) },
  });
  if (declaredShape && !shapesEqual(declaredShape, type.shape)) {
    throw new IrError(`${op}: result shape is ${formatShape(type.shape)}, but ${formatShape(declaredShape)} was declared`);
  }
  if (declaredDtype && declaredDtype !== type.dtype) {
    throw new IrError(`${op}: result dtype is ${type.dtype}, but ${declaredDtype} was declared`);
  }
  return { op, attrs, type };
}
