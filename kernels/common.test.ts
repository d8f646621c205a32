/** wgslFor: one generated text per argument list, reused. */
import { describe, expect, it } from 'vitest';
import { wgslFor } from './common.js';

describe('wgslFor', () => {
  it('generates once per argument list and returns the same text after', () => {
    let calls = 0;
    const generate = (spec: { op: string; rank: number }, vec4: boolean) => {
      calls++;
      return `// ${spec.op} ${spec.rank} ${vec4}`;
    };
    const first = wgslFor(generate, { op: 'add', rank: 3 }, true);
    expect(wgslFor(generate, { op: 'add', rank: 3 }, true)).toBe(first);
    expect(calls).toBe(1);
    expect(wgslFor(generate, { op: 'add', rank: 3 }, false)).toBe('// add 3 false');
    expect(wgslFor(generate, { op: 'mul', rank: 3 }, true)).toBe('// mul 3 true');
    expect(calls).toBe(3);
    // Another generator with the same arguments has its own cache.
    expect(wgslFor((spec: { op: string; rank: number }) => `other ${spec.op}`, { op: 'add', rank: 3 })).toBe('other add');
  });
});
