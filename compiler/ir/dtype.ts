/** Element types of IR tensors. `bool` and `i32` only come out of comparisons and casts. */
export const DTYPES = ["f64", "f32", "bf16", "i32", "bool"] as const;
export type DType = (typeof DTYPES)[number];

export function isDType(name: string): name is DType {
  return (DTYPES as readonly string[]).includes(name);
}

export function isFloatDType(dtype: DType): boolean {
  return dtype === "f64" || dtype === "f32" || dtype === "bf16";
}
