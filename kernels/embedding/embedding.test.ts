/**
 * Embedding: gather and scatter-add gradient against float64 loops and finite differences, per-slot tables, odd
 * shapes, out-of-range ids (NaN rows, no gradient), heavy repetition repeated bit for bit, the backward bit for bit
 * the float32 token-order sum over several blocks of ids, bad shapes.
 */
import { describe, expect, it } from 'vitest';
import { backward } from '../../src/tensor/autograd.js';
import { tensor } from '../../src/tensor/create.js';
import { ShapeError } from '../../src/gpu/errors.js';
import { embedding } from '../../src/tensor/ops/embedding.js';
import { expectClose } from '../../test/helpers/compare.js';
import { checkForwardAndGradients } from '../../test/helpers/gradcheck.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray, randomInts } from '../../test/helpers/random.js';
import { launchEmbeddingBackward, launchEmbeddingForward } from './embedding.js';
import { embeddingGradReference, embeddingReference } from './reference.js';

const device = useDevice();

describe('embedding', () => {
  const cases: { table: number[]; ids: number[] }[] = [
    { table: [2, 11, 7], ids: [2, 3, 5] }, // trial axis, repeated ids
    { table: [11, 7], ids: [4, 9] }, // rank-2 table: T = 1, ids of any shape
    { table: [1, 257, 33], ids: [1, 1] },
    { table: [3, 5, 1], ids: [3, 17] },
    { table: [2, 13, 8], ids: [2, 3, 3] }, // hidden % 4 == 0: v2 (vec4)
    { table: [9, 12], ids: [5] },
  ];
  for (const { table, ids } of cases) {
    it(`table [${table}] ids [${ids}]`, async () => {
      const slots = table.length === 3 ? table[0] : 1;
      const [vocab, hidden] = table.slice(-2);
      const idData = randomInts(ids.reduce((p, d) => p * d, 1), vocab + hidden, 0, vocab);
      await checkForwardAndGradients(device(), {
        what: `embedding [${table}] [${ids}]`,
        inputs: [{ shape: table }, { shape: ids, ints: idData }],
        gpu: ([t, i]) => embedding(t, i),
        reference: ([t]) => embeddingReference(t, idData, slots, vocab, hidden),
      });
    });
  }

  it('out-of-range ids give NaN rows and no gradient', async () => {
    const d = device();
    const [slots, vocab, hidden, rows] = [2, 6, 5, 4];
    const tableData = randomArray(slots * vocab * hidden, 3);
    const idData = Int32Array.from([0, -1, 5, 6, 2, 2, 1000, 0]);
    const table = tensor(d, tableData, [slots, vocab, hidden], { requiresGrad: true });
    const ids = tensor(d, idData, [slots, rows]);
    const out = embedding(table, ids);
    const forward = await out.toArray();
    const expected = embeddingReference(tableData, idData, slots, vocab, hidden);
    for (let i = 0; i < expected.length; i++) {
      if (Number.isNaN(expected[i])) expect(forward[i]).toBeNaN();
      else expect(forward[i]).toBe(expected[i]);
    }
    const g = randomArray(out.size, 4);
    const gradient = tensor(d, g, out.shape);
    backward(out, { gradient });
    expectClose(await table.grad!.toArray(), embeddingGradReference(g, idData, slots, vocab, hidden), 1e-6, 'grad');
    for (const t of [table, ids, out, gradient]) t.release();
  });

  it('sums heavily repeated ids in a fixed order: repeats are bit-identical', async () => {
    const d = device();
    const [slots, vocab, hidden, rows] = [2, 4, 8, 601];
    const idData = randomInts(slots * rows, 21, 0, 3); // row 3 of each table gets no token: gradient 0
    const g = randomArray(slots * rows * hidden, 22);
    const grads: Float32Array[] = [];
    for (let run = 0; run < 2; run++) {
      const table = tensor(d, new Float32Array(slots * vocab * hidden), [slots, vocab, hidden], { requiresGrad: true });
      const ids = tensor(d, idData, [slots, rows]);
      const out = embedding(table, ids);
      const gradient = tensor(d, g, out.shape);
      backward(out, { gradient });
      grads.push((await table.grad!.toArray()) as Float32Array);
      for (const t of [table, ids, out, gradient]) t.release();
    }
    expect(Buffer.from(grads[0].buffer).equals(Buffer.from(grads[1].buffer))).toBe(true);
    expectClose(grads[0], embeddingGradReference(g, idData, slots, vocab, hidden), 1e-5, 'repeated-id grad');
    expect(Array.from(grads[0].subarray(3 * hidden, 4 * hidden)).every((v) => v === 0)).toBe(true);
  });

  it('backward over several blocks of ids and slots: the float32 token-order sum bit for bit, in three dispatches', async () => {
    const d = device();
    // vocab 2500: three blocks of 1024 ids in embedding_heads, the last partial; ids at the blocks' edges, out of
    // range (-1, vocab, vocab + 5), and a run of one id (0) among random ones.
    const [slots, vocab, hidden, rows] = [3, 2500, 12, 700];
    const idData = randomInts(slots * rows, 41, 0, vocab);
    const special = [-1, 0, 1023, 1024, 2047, 2048, 2499, 2500, 2505, 0, 0, 1024];
    for (let token = 0; token < idData.length; token++) if (token % 5 === 0) idData[token] = special[(token / 5) % special.length];
    const g = randomArray(slots * rows * hidden, 42);
    const expected = new Float32Array(slots * vocab * hidden); // summed in token order, rounded to float32 at each add
    for (let token = 0; token < idData.length; token++) {
      const id = idData[token];
      if (id < 0 || id >= vocab) continue;
      const at = (Math.floor(token / rows) * vocab + id) * hidden;
      for (let h = 0; h < hidden; h++) expected[at + h] = Math.fround(expected[at + h] + g[token * hidden + h]);
    }
    const ids = d.allocate(idData.byteLength, 'ids');
    d.write(ids, idData);
    const gradOut = d.allocate(g.byteLength, 'gradOut');
    d.write(gradOut, g);
    for (const forceVectorWidth of [1, 4] as const) {
      const grad = d.allocate(expected.byteLength, 'grad'); // poisoned: every row must be written
      const dispatches = d.dispatchCount;
      launchEmbeddingBackward(d, ids, gradOut, grad, { slots, vocab, hidden, rowsPerSlot: rows, forceVectorWidth });
      expect(d.dispatchCount - dispatches).toBe(3);
      const result = new Uint32Array(await d.read(grad, expected.byteLength));
      expect(Buffer.from(result.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      d.release(grad);
    }
    d.release(ids);
    d.release(gradOut);
  });

  it('v1 and v2 give bit-identical results (same summation order)', async () => {
    const d = device();
    const shape = { slots: 2, vocab: 7, hidden: 12, rowsPerSlot: 50 };
    const idData = randomInts(100, 31, -1, 8); // includes out-of-range -1 and 7
    const upload = (data: Float32Array | Int32Array) => {
      const b = d.allocate(data.byteLength, 'test');
      d.write(b, data);
      return b;
    };
    const table = upload(randomArray(2 * 7 * 12, 32));
    const ids = upload(idData);
    const gradOut = upload(randomArray(2 * 50 * 12, 33));
    const results: Uint32Array[] = [];
    for (const forceVectorWidth of [1, 4] as const) {
      const out = d.allocate(2 * 50 * 12 * 4, 'out');
      const grad = d.allocate(2 * 7 * 12 * 4, 'grad');
      launchEmbeddingForward(d, table, ids, out, { ...shape, forceVectorWidth });
      launchEmbeddingBackward(d, ids, gradOut, grad, { ...shape, forceVectorWidth });
      results.push(new Uint32Array(await d.read(out, 2 * 50 * 12 * 4)), new Uint32Array(await d.read(grad, 2 * 7 * 12 * 4)));
      d.release(out);
      d.release(grad);
    }
    expect(Array.from(results[2])).toEqual(Array.from(results[0]));
    expect(Array.from(results[3])).toEqual(Array.from(results[1]));
    for (const b of [table, ids, gradOut]) d.release(b);
  });

  it('rejects bad shapes before dispatching', () => {
    const d = device();
    const table = tensor(d, new Float32Array(2 * 3 * 4), [2, 3, 4]);
    const ids = tensor(d, Int32Array.from([0, 1, 2]), [3]);
    const floats = tensor(d, new Float32Array(2), [2]);
    expect(() => embedding(table, ids)).toThrow(/ids \[3\] must lead with the 2 slots/);
    expect(() => embedding(table, floats)).toThrow(ShapeError);
    expect(() => embedding(floats, ids)).toThrow(/table \[2\]/);
    for (const t of [table, ids, floats]) t.release();
  });
});
