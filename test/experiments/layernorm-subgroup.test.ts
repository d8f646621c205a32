/**
 * The experimental layer normalisation v2 `subgroup` and v3 `subgroup4` (bench/experiments/layernorm: never chosen
 * by the product) on the checks every layer-normalisation variant passes (test/helpers/layernorm-kernel-tests.ts),
 * and v3's row-count check. On a device without a fixed subgroup size they cannot run, and v1 is checked in their
 * place, with a warning.
 */
import { expect, it } from 'vitest';
import {
  launchLayerNormBackwardExperiment,
  launchLayerNormExperiment,
} from '../../bench/experiments/layernorm/subgroup.js';
import { launchLayerNorm, launchLayerNormBackward } from '../../kernels/layernorm/layernorm.js';
import { useDevice } from '../helpers/gpu.js';
import { defineLayerNormKernelTests, runLayerNormKernels } from '../helpers/layernorm-kernel-tests.js';

const device = useDevice();

for (const variant of ['subgroup', 'subgroup4'] as const) {
  defineLayerNormKernelTests(`${variant} (experiment)`, (x, w, b, dy, rows, hidden, slots) => {
    const d = device();
    if (!(d.hasSubgroups && d.info.subgroupMinSize === d.info.subgroupMaxSize)) {
      console.warn(`layernorm ${variant}: this device has no fixed subgroup size; checking v1 in its place`);
      const v1 = { forward: launchLayerNorm, backward: launchLayerNormBackward };
      return runLayerNormKernels(d, (...a) => v1.forward(...a, 'row'), (...a) => v1.backward(...a, 'row'), x, w, b, dy, rows, hidden, slots);
    }
    return runLayerNormKernels(
      d,
      (...a) => launchLayerNormExperiment(...a, variant),
      (...a) => launchLayerNormBackwardExperiment(...a, variant),
      x, w, b, dy, rows, hidden, slots,
    );
  });
}

it('subgroup4 needs rowsPerSlot % 4 == 0', () => {
  const d = device();
  const buffer = d.allocate(64, 'x');
  expect(() => launchLayerNormExperiment(d, buffer, buffer, buffer, buffer, buffer, buffer, 6, 4, 1, 1e-5, 'subgroup4')).toThrow(
    /layernorm_subgroup4: needs rowsPerSlot % 4 == 0, got rowsPerSlot=6/,
  );
  d.release(buffer);
});
