/**
 * The few NumPy behaviours TPE's results depend on, reproduced exactly so that webtrainer's TPE draws what
 * Optuna's draws (NumPy 1.24, the version Debian 12 ships with Optuna):
 * - `np.argsort(x)` (default kind 'quicksort'): NumPy's introsort `aquicksort_` for float64
 *   (numpy/core/src/npysort/quicksort.cpp: median-of-3 partitioning, insertion sort below 16 elements, heapsort
 *   `aheapsort_` (heapsort.cpp) past a depth of 2·floor(log2 n)). It is not stable: the order it gives tied
 *   values decides which observation gets which bandwidth in univariate TPE, so a stable sort would differ
 *   from Optuna whenever integer parameters repeat.
 * - `np.round`: round half to even.
 * - `np.argmax`: the first maximum, and the first NaN if there is one.
 */

/** NumPy's float `less`: NaNs sort last. */
function less(a: number, b: number): boolean {
  return a < b || (b !== b && a === a);
}

const SMALL_QUICKSORT = 15;

function msb(n: number): number {
  let d = 0;
  while ((n = Math.floor(n / 2)) > 0) d++;
  return d;
}

/** `aheapsort_` on tosort[start .. start+n). */
function aheapsort(v: ArrayLike<number>, tosort: Int32Array, start: number, n: number): void {
  // 1-based indexing as in NumPy: a[k] = tosort[start + k - 1].
  const get = (k: number): number => tosort[start + k - 1];
  const set = (k: number, x: number): void => {
    tosort[start + k - 1] = x;
  };
  let i: number;
  let j: number;
  let tmp: number;
  for (let l = n >> 1; l > 0; --l) {
    tmp = get(l);
    for (i = l, j = l << 1; j <= n; ) {
      if (j < n && less(v[get(j)], v[get(j + 1)])) j += 1;
      if (less(v[tmp], v[get(j)])) {
        set(i, get(j));
        i = j;
        j += j;
      } else break;
    }
    set(i, tmp);
  }
  for (; n > 1; ) {
    tmp = get(n);
    set(n, get(1));
    n -= 1;
    for (i = 1, j = 2; j <= n; ) {
      if (j < n && less(v[get(j)], v[get(j + 1)])) j++;
      if (less(v[tmp], v[get(j)])) {
        set(i, get(j));
        i = j;
        j += j;
      } else break;
    }
    set(i, tmp);
  }
}

/** `np.argsort(v)` for float64, tie order included. */
export function argsort(v: ArrayLike<number>): number[] {
  const num = v.length;
  const tosort = new Int32Array(num);
  for (let i = 0; i < num; i++) tosort[i] = i;
  if (num < 2) return Array.from(tosort);
  const swap = (a: number, b: number): void => {
    const t = tosort[a];
    tosort[a] = tosort[b];
    tosort[b] = t;
  };
  let pl = 0;
  let pr = num - 1;
  const stack: number[] = [];
  const depth: number[] = [];
  let cdepth = msb(num) * 2;
  for (;;) {
    let popped = false;
    if (cdepth < 0) {
      aheapsort(v, tosort, pl, pr - pl + 1);
      popped = true;
    }
    if (!popped) {
      while (pr - pl > SMALL_QUICKSORT) {
        const pm = pl + ((pr - pl) >> 1);
        if (less(v[tosort[pm]], v[tosort[pl]])) swap(pm, pl);
        if (less(v[tosort[pr]], v[tosort[pm]])) swap(pr, pm);
        if (less(v[tosort[pm]], v[tosort[pl]])) swap(pm, pl);
        const vp = v[tosort[pm]];
        let pi = pl;
        let pj = pr - 1;
        swap(pm, pj);
        for (;;) {
          do ++pi;
          while (less(v[tosort[pi]], vp));
          do --pj;
          while (less(vp, v[tosort[pj]]));
          if (pi >= pj) break;
          swap(pi, pj);
        }
        const pk = pr - 1;
        swap(pi, pk);
        // Push the larger partition, go on with the smaller one.
        if (pi - pl < pr - pi) {
          stack.push(pi + 1, pr);
          pr = pi - 1;
        } else {
          stack.push(pl, pi - 1);
          pl = pi + 1;
        }
        depth.push(--cdepth);
      }
      // Insertion sort.
      for (let pi = pl + 1; pi <= pr; ++pi) {
        const vi = tosort[pi];
        const vp = v[vi];
        let pj = pi;
        let pk = pi - 1;
        while (pj > pl && less(vp, v[tosort[pk]])) tosort[pj--] = tosort[pk--];
        tosort[pj] = vi;
      }
    }
    if (stack.length === 0) break;
    pr = stack.pop()!;
    pl = stack.pop()!;
    cdepth = depth.pop()!;
  }
  return Array.from(tosort);
}

/** `np.round(x)`: to the nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `np.argmax(xs)`: index of the first maximum, or of the first NaN. */
export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 0; i < xs.length; i++) {
    if (Number.isNaN(xs[i])) return i;
    if (xs[i] > xs[best]) best = i;
  }
  return best;
}

/**
 * `np.sum` of a contiguous float64 run as NumPy's `pairwise_sum` adds it (numpy/core/src/umath/loops_utils.h):
 * plainly below 8 terms, with 8 interleaved accumulators up to 128, halving above. The order matters when two
 * TPE candidates have mathematically equal scores (categorical choices seen equally often), so it is kept.
 */
export function pairwiseSum(a: ArrayLike<number>, start = 0, n = a.length - start): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= 128) {
    const r = [a[start], a[start + 1], a[start + 2], a[start + 3], a[start + 4], a[start + 5], a[start + 6], a[start + 7]];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[start + i + j];
    let res = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < n; i++) res += a[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}
