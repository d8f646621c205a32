/** The kernel names a piece of recording dispatches, in order (tests that count or name what a path records). */
import type { Device } from '../../src/gpu/device.js';

export function kernelsOf(d: Device, record: () => void): string[] {
  const names: string[] = [];
  const dispatch = d.dispatch.bind(d);
  const spied = d as { dispatch: Device['dispatch'] };
  spied.dispatch = (x) => {
    names.push(x.kernel);
    dispatch(x);
  };
  try {
    record();
  } finally {
    delete (spied as Partial<typeof spied>).dispatch; // the prototype's method again
  }
  return names;
}
