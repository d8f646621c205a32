/** Matmul v5 (packed into storage textures) on every shape, transposition, batch broadcast and epilogue (variant-tests.ts). */
import { useDevice } from '../../test/helpers/gpu.js';
import { defineVariantTests } from './variant-tests.js';

defineVariantTests('v5', useDevice());
