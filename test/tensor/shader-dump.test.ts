/** The debug switch: WEBTRAINER_DUMP_SHADERS=DIR writes every shader, named by kernel, when first compiled. */
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { tensor } from '../../src/tensor/create.js';
import { createDevice } from '../../src/gpu/device.js';
import { gelu } from '../../src/tensor/ops/elementwise.js';

it('dumps each shader once, named by its kernel', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'webtrainer-shaders-'));
  process.env.WEBTRAINER_DUMP_SHADERS = dir;
  const device = await createDevice();
  delete process.env.WEBTRAINER_DUMP_SHADERS;
  const x = tensor(device, [1, 2, 3]);
  await gelu(x).toArray();
  await gelu(x).toArray(); // Cached: no second file.
  const files = (await readdir(dir)).filter((f) => f.startsWith('unary_gelu'));
  expect(files).toHaveLength(1);
  expect(await readFile(join(dir, files[0]), 'utf8')).toMatch(/@compute @workgroup_size/);
  device.destroy();
});
