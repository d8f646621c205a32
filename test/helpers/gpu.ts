/**
 * The GPU device for a test file: created once, with poisoned allocations, destroyed at the end. If this machine
 * has no WebGPU adapter the suite fails loudly with the reason (CI installs lavapipe, so a missing adapter is a
 * broken setup, not something to skip quietly).
 */
import { afterAll, beforeAll } from 'vitest';
import { createDevice, type Device } from '../../src/gpu/device.js';

export function useDevice(): () => Device {
  let device: Device | undefined;
  beforeAll(async () => {
    device = await createDevice();
    device.poisonAllocations = true;
  });
  afterAll(() => device?.destroy());
  return () => {
    if (!device) throw new Error('GPU device not created (see the beforeAll error above)');
    return device;
  };
}
