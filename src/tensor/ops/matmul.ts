/**
 * Matrix products with autograd: `matmul` (rank 2 or 3, optional transposes, a rank-2 operand broadcast against a
 * rank-3 one) and `linear` (x W + b, optionally GELU, fused into the kernel's epilogue; W may carry the trial axis).
 * Kernel: kernels/matmul. Backward reuses the same kernel through its transpose flags (no transpose copies):
 * dA = dC op(B)^T, dB = op(A)^T dC; a broadcast operand's gradient is summed over the batch.
 */
import { launchMatmul, launchMatmulPair, type MatmulArgs } from '../../../kernels/matmul/matmul.js';
import { ACCUMULATED, apply, type OpDefinition } from '../autograd.js';
import { ShapeError } from '../../gpu/errors.js';
import { emptyTensor } from '../tensor-fill.js';
import type { Shape, Tensor } from '../tensor.js';
import { binaryRaw } from './elementwise.js';
import { DeferredSum } from '../deferred-sum.js';
import { sum } from './reduce.js';

/** How two stored operands multiply: out (batch, m, n) = op(A) op(B). */
interface Product {
  batch: number;
  m: number;
  k: number;
  n: number;
  transposeA: boolean;
  transposeB: boolean;
  /** false: one matrix shared by every batch. */
  aBatched: boolean;
  bBatched: boolean;
}

function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

function assertFloat(op: string, ...tensors: Tensor[]): void {
  for (const t of tensors) {
    if (t.dtype !== 'f32') throw new ShapeError(`${op}: needs f32 tensors, got ${t.dtype} ${fmt(t.shape)}`);
  }
}

/** out = op(A) op(B) (+ bias, GELU) into a new tensor of `outShape`. */
function product(
  p: Product,
  a: Tensor,
  b: Tensor,
  outShape: Shape,
  epilogue: { bias?: Tensor; biasBatched?: boolean; gelu?: boolean; preActivation?: Tensor } = {},
): Tensor {
  const out = emptyTensor(a.device, outShape, 'f32', 'matmul');
  launchMatmul(a.device, {
    ...p,
    a: a.buffer,
    b: b.buffer,
    out: out.buffer,
    bias: epilogue.bias?.buffer,
    biasBatched: epilogue.biasBatched,
    epilogue: epilogue.gelu ? 'gelu' : 'none',
    preActivation: epilogue.preActivation?.buffer,
  });
  return out;
}

/** One gradient's product: out = op(x) op(y) into a new tensor of `shape`, summed over axis 0 when `sumBatch`. */
interface GradProduct {
  p: Product;
  x: Tensor;
  y: Tensor;
  shape: Shape;
  sumBatch: boolean;
}

/**
 * Gradients of A and B (as stored, transposes included) for out = op(A) op(B) with incoming gradient g
 * (batch, m, n). A shared operand's gradient is summed over the batch: by flattening the batch into the
 * contraction when the layout allows it (the common `x (T*rows, in) . W` case), else per batch and then `sum`.
 * Both products go to `launchMatmulPair`, which packs their operands in one dispatch where it can. A gradient with
 * a target in `into` (what its operand has gathered from other consumers) is added into it by the kernel's
 * epilogue, and comes back as ACCUMULATED.
 */
function productGrads(
  p: Product,
  a: Tensor,
  b: Tensor,
  g: Tensor,
  needA: boolean,
  needB: boolean,
  into: readonly (Tensor | null)[] = [],
): [Tensor | null | typeof ACCUMULATED, Tensor | null | typeof ACCUMULATED] {
  const { batch, m, k, n, transposeA: tA, transposeB: tB } = p;
  const both = { aBatched: true, bBatched: true };
  // Shared operand gradient: compute (batch, rows, cols) then sum over the batch.
  const summed = (q: Product, x: Tensor, y: Tensor, rows: number, cols: number, batched: boolean): GradProduct => {
    if (batched || batch === 1) return { p: { ...q, batch }, x, y, shape: batched ? [batch, rows, cols] : [rows, cols], sumBatch: false };
    return { p: { ...q, batch }, x, y, shape: [batch, rows, cols], sumBatch: true };
  };
  let planA: GradProduct | null = null;
  let planB: GradProduct | null = null;
  if (needA) {
    planA = tA
      ? // A stored (k, m): dA = op(B) g^T.
        summed({ ...p, ...both, m: k, k: n, n: m, transposeA: tB, transposeB: true, bBatched: true, aBatched: p.bBatched }, b, g, k, m, p.aBatched)
      : // A stored (m, k): dA = g op(B)^T.
        summed({ ...p, ...both, m, k: n, n: k, transposeA: false, transposeB: !tB, bBatched: p.bBatched }, g, b, m, k, p.aBatched);
  }
  if (needB) {
    if (!p.bBatched && p.aBatched && batch > 1 && !tA) {
      // A is row-major (batch*m, k) and g is (batch*m, n): one product over the flattened batch does the sum.
      const flat = { batch: 1, k: batch * m, aBatched: true, bBatched: true };
      planB = tB
        ? { p: { ...flat, m: n, n: k, transposeA: true, transposeB: false }, x: g, y: a, shape: [n, k], sumBatch: false }
        : { p: { ...flat, m: k, n, transposeA: true, transposeB: false }, x: a, y: g, shape: [k, n], sumBatch: false };
    } else {
      planB = tB
        ? // B stored (n, k): dB = g^T op(A).
          summed({ ...p, ...both, m: n, k: m, n: k, transposeA: true, transposeB: tA, bBatched: p.aBatched }, g, a, n, k, p.bBatched)
        : // B stored (k, n): dB = op(A)^T g.
          summed({ ...p, ...both, m: k, k: m, n, transposeA: !tA, transposeB: false, aBatched: p.aBatched }, a, g, k, n, p.bBatched);
    }
  }
  const planned = [planA && { plan: planA, target: into[0] ?? null }, planB && { plan: planB, target: into[1] ?? null }].filter(
    (x): x is { plan: GradProduct; target: Tensor | null } => x !== null,
  );
  // A product summed over its batch afterwards cannot add into the target directly.
  const adds = planned.map(({ plan, target }) => target !== null && !plan.sumBatch && target.size === plan.shape.reduce((x, d) => x * d, 1));
  const outs = planned.map(({ plan, target }, i) => (adds[i] ? target! : emptyTensor(g.device, plan.shape, 'f32', 'matmul')));
  const args = planned.map(({ plan }, i): MatmulArgs => ({
    ...plan.p, a: plan.x.buffer, b: plan.y.buffer, out: outs[i].buffer, epilogue: 'none', ...(adds[i] ? { accumulate: true } : {}),
  }));
  if (args.length === 2) launchMatmulPair(g.device, args[0], args[1]);
  else if (args.length === 1) launchMatmul(g.device, args[0]);
  const grads = planned.map(({ plan }, i) => (adds[i] ? ACCUMULATED : plan.sumBatch ? sum(outs[i], 0) : outs[i]));
  return [planA ? grads[0] : null, planB ? grads[grads.length - 1] : null];
}

export interface MatmulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
}

interface MatmulAttrs {
  product: Product;
  outShape: number[];
}

/** Shapes of matmul(a, b): a (m, k) or (batch, m, k), b (k, n) or (batch, k, n); transposed where flagged. */
function planMatmul(a: Shape, b: Shape, options: MatmulOptions): MatmulAttrs {
  const transposeA = options.transposeA ?? false;
  const transposeB = options.transposeB ?? false;
  const where = `matmul(a ${fmt(a)}, b ${fmt(b)}${transposeA ? ', transposeA' : ''}${transposeB ? ', transposeB' : ''})`;
  for (const [name, shape] of [['a', a], ['b', b]] as const) {
    if (shape.length !== 2 && shape.length !== 3) throw new ShapeError(`${where}: ${name} must be rank 2 or 3, got rank ${shape.length}`);
  }
  const [aRows, aCols] = a.slice(-2);
  const [bRows, bCols] = b.slice(-2);
  const [m, kA] = transposeA ? [aCols, aRows] : [aRows, aCols];
  const [kB, n] = transposeB ? [bCols, bRows] : [bRows, bCols];
  if (kA !== kB) throw new ShapeError(`${where}: inner dimensions differ (a gives k=${kA}, b gives k=${kB})`);
  const aBatch = a.length === 3 ? a[0] : null;
  const bBatch = b.length === 3 ? b[0] : null;
  if (aBatch !== null && bBatch !== null && aBatch !== bBatch) {
    throw new ShapeError(`${where}: batch sizes differ (a has ${aBatch}, b has ${bBatch})`);
  }
  const batch = aBatch ?? bBatch ?? 1;
  const outShape = aBatch === null && bBatch === null ? [m, n] : [batch, m, n];
  return {
    product: { batch, m, k: kA, n, transposeA, transposeB, aBatched: aBatch !== null, bBatched: bBatch !== null },
    outShape,
  };
}

/** A shared B against a row-major batched A is one (batch*m, k) product: fewer, fuller tiles. */
function flattened(p: Product): Product {
  if (p.aBatched && !p.bBatched && !p.transposeA) return { ...p, batch: 1, m: p.batch * p.m };
  return p;
}

export const matmulOp: OpDefinition<MatmulAttrs> = {
  name: 'matmul',
  forward([a, b], attrs, save) {
    assertFloat('matmul', a, b);
    save(a);
    save(b);
    return product(flattened(attrs.product), a, b, attrs.outShape);
  },
  backward({ saved: [a, b], attrs, needsGrad }, g, into) {
    return productGrads(attrs.product, a, b, g, needsGrad[0], needsGrad[1], into);
  },
};

/**
 * a (m, k) | (batch, m, k) times b (k, n) | (batch, k, n) → (m, n) | (batch, m, n). With `transposeA`, a is stored
 * (…, k, m); with `transposeB`, b is stored (…, n, k). A rank-2 operand is shared by every batch of a rank-3 one.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  return apply(matmulOp, [a, b], planMatmul(a.shape, b.shape, options));
}

export interface LinearOptions {
  activation?: 'gelu';
}

interface LinearAttrs {
  product: Product;
  outShape: number[];
  hasBias: boolean;
  biasBatched: boolean;
  gelu: boolean;
}

/** Shapes of linear(x, weight, bias): weight (in, out) or (T, in, out); bias (out) or (T, out). */
function planLinear(x: Shape, weight: Shape, bias: Shape | undefined, options: LinearOptions): LinearAttrs {
  const where = `linear(x ${fmt(x)}, weight ${fmt(weight)}${bias ? `, bias ${fmt(bias)}` : ''})`;
  if (weight.length !== 2 && weight.length !== 3) throw new ShapeError(`${where}: weight must be (in, out) or (trial, in, out)`);
  const [inFeatures, outFeatures] = weight.slice(-2);
  if (x.length < 1 || x[x.length - 1] !== inFeatures) {
    throw new ShapeError(`${where}: x's last dimension must be in=${inFeatures}, got ${x[x.length - 1]}`);
  }
  const trials = weight.length === 3 ? weight[0] : 1;
  let batch = 1;
  let aBatched = true;
  let rows = x.slice(0, -1).reduce((p, d) => p * d, 1);
  let outShape = [...x.slice(0, -1), outFeatures];
  if (weight.length === 3) {
    if (x.length >= 3) {
      // x (T, ..., in): trial t's rows meet trial t's weight.
      if (x[0] !== trials) throw new ShapeError(`${where}: x's trial dimension ${x[0]} must equal weight's ${trials}`);
      batch = trials;
      rows /= trials;
    } else {
      // x (rows, in) shared by every trial.
      batch = trials;
      aBatched = false;
      outShape = [trials, ...outShape];
    }
  }
  let biasBatched = false;
  if (bias) {
    if (bias.length === 2 && weight.length === 3 && bias[0] === trials && bias[1] === outFeatures) biasBatched = true;
    else if (!(bias.length === 1 && bias[0] === outFeatures)) {
      throw new ShapeError(`${where}: bias must be (out=${outFeatures})${weight.length === 3 ? ` or (trial=${trials}, out)` : ''}`);
    }
  }
  return {
    product: {
      batch,
      m: rows,
      k: inFeatures,
      n: outFeatures,
      transposeA: false,
      transposeB: false,
      aBatched,
      bBatched: weight.length === 3,
    },
    outShape,
    hasBias: bias !== undefined,
    biasBatched,
    gelu: options.activation === 'gelu',
  };
}

export const linearOp: OpDefinition<LinearAttrs> = {
  name: 'linear',
  forward(inputs, attrs, save) {
    const [x, weight, bias] = inputs;
    assertFloat('linear', ...inputs);
    save(x);
    save(weight);
    // The pre-activation is only needed for a backward pass.
    const preActivation =
      attrs.gelu && inputs.some((t) => t.requiresGrad) ? emptyTensor(x.device, attrs.outShape, 'f32', 'linear pre-activation') : undefined;
    const out = product(flattened(attrs.product), x, weight, attrs.outShape, {
      bias: attrs.hasBias ? bias : undefined,
      biasBatched: attrs.biasBatched,
      gelu: attrs.gelu,
      preActivation,
    });
    if (preActivation) {
      save(preActivation);
      preActivation.release(); // `save` keeps its own handle.
    }
    return out;
  },
  backward({ saved, attrs, needsGrad }, g, into) {
    const [x, weight, preActivation] = saved;
    const gradPre = attrs.gelu ? binaryRaw('gelu_grad', preActivation, g) : g;
    const [gradX, gradWeight] = productGrads(attrs.product, x, weight, gradPre, needsGrad[0], needsGrad[1], into);
    let gradBias: DeferredSum | null = null;
    if (attrs.hasBias && needsGrad[2]) {
      const n = attrs.product.n;
      // (T, rows, out) summed over rows, or every row of every batch when the bias is shared; computed by autograd
      // with other layers' bias gradients in one dispatch.
      gradBias = attrs.biasBatched
        ? new DeferredSum(gradPre, attrs.product.batch, attrs.product.m, n)
        : new DeferredSum(gradPre, 1, gradPre.size / n, n);
    }
    return [gradX, gradWeight, gradBias];
  },
};

/**
 * y = x W (+ b) (then GELU), fused into one kernel. x (..., in) with weight (in, out); or the trial form x (T, ...,
 * in) with weight (T, in, out) (x (rows, in) is then shared by every trial). bias (out), or (T, out) per trial.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor, options: LinearOptions = {}): Tensor {
  const attrs = planLinear(x.shape, weight.shape, bias?.shape, options);
  return apply(linearOp, bias ? [x, weight, bias] : [x, weight], attrs);
}
