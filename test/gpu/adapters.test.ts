/**
 * Which adapter a launched rank takes: Dawn's list read from its error (the real one here: lavapipe), and the
 * choice by LOCAL_RANK on hand-made lists (several named adapters, software next to hardware, same-named twins).
 */
import { describe, expect, it } from 'vitest';
import { adapterForLocalRank, listAdapters, parseAdapterList } from '../../src/gpu/adapters.js';

describe('adapters', () => {
  it('reads Dawn\'s list of adapters', async () => {
    expect(parseAdapterList("no suitable backends found\nAvailable adapters:\n * backend: 'vulkan', name: 'NVIDIA H200'\n * backend: 'vulkan', name: 'llvmpipe (LLVM 15.0.6, 256 bits)'\n"))
      .toEqual([{ backend: 'vulkan', name: 'NVIDIA H200' }, { backend: 'vulkan', name: 'llvmpipe (LLVM 15.0.6, 256 bits)' }]);
    const here = await listAdapters();
    expect(here.length).toBeGreaterThanOrEqual(1);
    expect(here.some((a) => a.name.length > 0 && a.backend.length > 0)).toBe(true);
  });

  it('gives rank k the k-th adapter, hardware first; one adapter or same-named twins are shared', () => {
    const a = (name: string) => ({ backend: 'vulkan', name });
    const two = [a('GPU A'), a('llvmpipe (LLVM 15)'), a('GPU B')];
    expect([0, 1, 2, 3].map((rank) => adapterForLocalRank(rank, two).name)).toEqual(['GPU A', 'GPU B', 'GPU A', 'GPU B']);
    expect(adapterForLocalRank(1, [a('llvmpipe (LLVM 15)')])).toEqual({ name: null, warning: null });
    expect(adapterForLocalRank(1, [a('GPU A'), a('llvmpipe')]).name).toBeNull();
    const twins = adapterForLocalRank(1, [a('NVIDIA H100'), a('NVIDIA H100')]);
    expect(twins.name).toBeNull();
    expect(twins.warning).toMatch(/2 adapters share the name 'NVIDIA H100'/);
    expect(adapterForLocalRank(0, [])).toEqual({ name: null, warning: null });
  });
});
