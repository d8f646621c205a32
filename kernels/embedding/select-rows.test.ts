/**
 * Strided row selection (the [CLS] gather) and its one-dispatch gradient against the float64 references on poisoned
 * outputs: T = 1..3, hidden a multiple of 4 (v2) or not (v1), offsets 0 and > 0, stride 1; the op's forward and
 * gradient against finite differences (gradcheck.ts's defaults); equality with the embedding lookup it replaces in
 * SequenceClassifier; bad shapes. The values are copies: exact.
 */
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../src/gpu/errors.js';
import { tensor } from '../../src/tensor/create.js';
import { embedding } from '../../src/tensor/ops/embedding.js';
import { selectRows, selectRowsOp } from '../../src/tensor/ops/select-rows.js';
import { checkForwardAndGradients } from '../../test/helpers/gradcheck.js';
import { useDevice } from '../../test/helpers/gpu.js';
import { randomArray } from '../../test/helpers/random.js';
import { launchSelectRows, launchSelectRowsBackward, type SelectRowsShape } from './embedding.js';
import { selectRowsGradReference, selectRowsReference } from './reference.js';

const device = useDevice();

describe('select_rows kernels', () => {
  const cases: SelectRowsShape[] = [
    { slots: 3, selected: 2, stride: 5, offset: 0, hidden: 12 },
    { slots: 2, selected: 3, stride: 4, offset: 3, hidden: 7 },
    { slots: 1, selected: 5, stride: 1, offset: 0, hidden: 5 },
    { slots: 2, selected: 70, stride: 9, offset: 2, hidden: 36 },
  ];
  for (const s of cases) {
    it(`slots=${s.slots} selected=${s.selected} stride=${s.stride} offset=${s.offset} hidden=${s.hidden}`, async () => {
      const d = device();
      const n = s.slots * s.selected * s.stride * s.hidden;
      const m = s.slots * s.selected * s.hidden;
      const x = tensor(d, randomArray(n, n), [n]);
      const g = tensor(d, randomArray(m, m), [m]);
      const out = d.allocate(m * 4, 'test output'); // poisoned with NaN
      const dx = d.allocate(n * 4, 'test output');
      launchSelectRows(d, x.buffer, out, s);
      launchSelectRowsBackward(d, g.buffer, dx, s);
      const got = new Float32Array(await d.read(out, m * 4));
      const gotDx = new Float32Array(await d.read(dx, n * 4));
      expect(Array.from(got)).toEqual(Array.from(selectRowsReference(await x.toArray(), s.slots, s.stride, s.offset, s.hidden)));
      expect(Array.from(gotDx)).toEqual(Array.from(selectRowsGradReference(await g.toArray(), s.slots, s.stride, s.offset, s.hidden)));
      for (const b of [out, dx]) d.release(b);
      for (const t of [x, g]) t.release();
    });
  }

  it('bad shapes throw ShapeError naming the kernel and the values', () => {
    const d = device();
    const b = d.allocate(64, 'test');
    const values = b.size / 4; // the pool may round the size up
    expect(() => launchSelectRows(d, b, b, { slots: 1, selected: 1, stride: 2, offset: 2, hidden: 4 })).toThrow(/select_rows: offset 2 must be below stride 2/);
    expect(() => launchSelectRows(d, b, b, { slots: 1, selected: values, stride: 2, offset: 0, hidden: 4 })).toThrow(
      new RegExp(`x holds ${values} values, needs ${values * 8}`),
    );
    expect(() => launchSelectRowsBackward(d, b, b, { slots: 0, selected: 1, stride: 1, offset: 0, hidden: 4 })).toThrow(ShapeError);
    d.release(b);
  });
});

describe('selectRows op', () => {
  it('forward and gradient against finite differences (T = 2, stride 3, offset 1)', async () => {
    const [slots, selected, stride, hidden] = [2, 2, 3, 5];
    await checkForwardAndGradients(device(), {
      what: 'selectRows',
      inputs: [{ shape: [slots, selected * stride, hidden] }],
      gpu: ([x]) => {
        const out = selectRows(x, { stride, offset: 1 });
        expect(out.producer?.op).toBe(selectRowsOp);
        return out;
      },
      reference: ([x]) => selectRowsReference(x, slots, stride, 1, hidden),
    });
  });

  it("equals SequenceClassifier's former [CLS] lookup, embedding(x, clsIndex)", async () => {
    const d = device();
    const [slots, batch, seq, hidden] = [2, 3, 4, 8];
    const x = tensor(d, randomArray(slots * batch * seq * hidden, 5), [slots, batch * seq, hidden]);
    const cls = tensor(d, Int32Array.from({ length: slots * batch }, (_, i) => (i % batch) * seq), [slots, batch]);
    const a = selectRows(x, { stride: seq });
    const b = embedding(x, cls);
    expect(a.shape).toEqual(b.shape);
    expect(Array.from(await a.toArray())).toEqual(Array.from(await b.toArray()));
    for (const t of [x, cls, a, b]) t.release();
  });

  it('bad inputs throw ShapeError', () => {
    const d = device();
    const x = tensor(d, new Float32Array(24), [2, 3, 4]);
    expect(() => selectRows(x, { stride: 2 })).toThrow(/stride 2 must be a whole number ≥ 1 dividing its 3 rows per slot/);
    expect(() => selectRows(x, { stride: 3, offset: 3 })).toThrow(/offset 3 must be in \[0, 3\)/);
    expect(() => selectRows(tensor(d, new Float32Array(6), [6]), { stride: 1 })).toThrow(ShapeError);
    x.release();
  });
});
