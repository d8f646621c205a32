/**
 * The layers of ARCHITECTURE.md, checked on every import (`npm run depcheck`, run by CI): each layer imports only
 * from the layers below it, the study layer (src/search) stands alone, and nothing the package ships imports
 * bench/ or test/. Kernel tests and benchmarks (*.test.ts, *.bench.ts beside a kernel) are test and bench code.
 */
const testOrBench = '(\\.test|\\.bench)\\.ts$';
const layer = (name, may) => ({ name, may });
// Each layer and the folders it must not import (everything above it, and bench/test).
const layers = [
  layer('gpu', ['kernels', 'src/tensor', 'src/nn', 'src/train', 'src/cli', 'src/search', 'src/distributed']),
  layer('kernels', ['src/tensor', 'src/nn', 'src/train', 'src/cli', 'src/search', 'src/distributed']),
  layer('src/tensor', ['src/nn', 'src/train', 'src/cli', 'src/search', 'src/distributed']),
  layer('src/nn', ['src/train', 'src/cli', 'src/search', 'src/distributed']),
  layer('src/train', ['src/cli']),
  layer('src/search', ['src/gpu', 'kernels', 'src/tensor', 'src/nn', 'src/train', 'src/cli']),
  // The collective layer stands alone too (node: only), so a native backend can replace it behind its interface.
  layer('src/distributed', ['src/gpu', 'kernels', 'src/tensor', 'src/nn', 'src/train', 'src/cli', 'src/search']),
  layer('src/cli', []),
];
const folder = (name) => (name === 'gpu' ? '^src/gpu/' : `^${name}/`);

module.exports = {
  forbidden: [
    ...layers.map(({ name, may: above }) => ({
      name: `${name.replace('src/', '')}-imports-up-or-across`,
      comment: `${name} may not import ${above.join(', ')} (ARCHITECTURE.md: layers point down; the study layer stands alone)`,
      severity: 'error',
      from: { path: folder(name), pathNot: testOrBench },
      to: { path: above.map((a) => `^${a}/`) },
    })).filter((rule) => rule.to.path.length > 0),
    {
      name: 'product-imports-bench-or-test',
      comment: 'src/ and kernels/ ship in the package: they may not import bench/ or test/',
      severity: 'error',
      from: { path: '^(src|kernels)/', pathNot: testOrBench },
      to: { path: '^(bench|test)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
