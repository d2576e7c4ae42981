import { irAssert } from "./errors.js";

export function factorial(n: number): number {
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return f;
}

/** All permutations of 0..n-1 in lexicographic order ([0,1,2], [0,2,1], [1,0,2], ...). */
export function permutations(n: number): number[][] {
  irAssert(Number.isInteger(n) && n >= 0 && n <= 8, `permutations(${n}): n must be an integer in 0..8`);
  const out: number[][] = [];
  const current: number[] = [];
  const used = new Array<boolean>(n).fill(false);
  const visit = (): void => {
    if (current.length === n) {
      out.push([...current]);
      return;
    }
    for (let v = 0; v < n; v++) {
      if (used[v]) continue;
      used[v] = true;
      current.push(v);
      visit();
      current.pop();
      used[v] = false;
    }
  };
  visit();
  return out;
}

/**
 * Row-major data of the `[n!, n, n]` stack of permutation matrices, in lexicographic
 * order of the permutations. Matrix p has a 1 at [i, sigma_p(i)]: row i of the result of
 * `P @ x` is stream sigma_p(i) of `x`, so the first matrix is the identity.
 */
export function permutationMatrices(n: number): number[] {
  const data: number[] = [];
  for (const sigma of permutations(n)) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) data.push(sigma[i] === j ? 1 : 0);
    }
  }
  return data;
}
