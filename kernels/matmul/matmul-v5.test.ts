/** Matmul v5 (packed into storage textures) on every shape, transposition, batch broadcast and epilogue (test/helpers/matmul-variant-tests.ts). */
import { describe, expect, it } from 'vitest';
import { useDevice } from '../../test/helpers/gpu.js';
import { defineVariantTests } from '../../test/helpers/matmul-variant-tests.js';
import { matmulV5StreamedWgsl } from './v5-streamed.wgsl.js';

defineVariantTests('v5', useDevice());

// Its results are checked through the variant tests' direct cases (k = 64 and 128) and matmul.test.ts's same-bits test.
describe('v5 streamed loop (small k)', () => {
  const spec = { transposeA: false, transposeB: false, bias: false, gelu: false, preActivation: false };
  it('is unrolled over k: one B load per k, one A load per 4 k of each of the lane\'s 4 rows', () => {
    const text = matmulV5StreamedWgsl(spec, 64);
    expect(text.match(/textureLoad\(matrixB/g)).toHaveLength(64);
    expect(text.match(/textureLoad\(matrixA/g)).toHaveLength(64);
  });

  it('names k when it is out of its range', () => {
    expect(() => matmulV5StreamedWgsl(spec, 192)).toThrow(/k must be a positive multiple of 4 up to 128, got 192/);
    expect(() => matmulV5StreamedWgsl(spec, 6)).toThrow(/got 6/);
  });
});
