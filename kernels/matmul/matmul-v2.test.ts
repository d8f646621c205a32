/** Matmul v2 on every shape, transposition, batch broadcast and epilogue (cases in test/helpers/matmul-variant-tests.ts). */
import { useDevice } from '../../test/helpers/gpu.js';
import { defineVariantTests } from '../../test/helpers/matmul-variant-tests.js';

defineVariantTests('v2', useDevice());
