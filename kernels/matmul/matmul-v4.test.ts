/**
 * Matmul v4: the shipped config on every case (test/helpers/matmul-variant-tests.ts), the runner-up on the layout cases, and every other
 * benchmarked config on two cases (scalar loads; vec4 loads with both operands transposed).
 */
import { useDevice } from '../../test/helpers/gpu.js';
import { LARGE_V4_CONFIG } from './choose-variant.js';
import { defineVariantTests } from '../../test/helpers/matmul-variant-tests.js';
import { V4_CONFIGS, type V4ConfigName } from './v4-blocked.wgsl.js';

const device = useDevice();
const RUNNER_UP: V4ConfigName = '128x128k16r8x8';
defineVariantTests('v4', device, { v4Config: LARGE_V4_CONFIG });
defineVariantTests('v4', device, { v4Config: RUNNER_UP, only: 'layouts' });
for (const v4Config of Object.keys(V4_CONFIGS) as V4ConfigName[]) {
  if (v4Config !== LARGE_V4_CONFIG && v4Config !== RUNNER_UP) defineVariantTests('v4', device, { v4Config, only: 'two' });
}
