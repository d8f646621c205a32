/**
 * The experimental softmax v3 `subgroup` (bench/experiments/softmax: never chosen by the product) on the checks every
 * softmax variant passes (test/helpers/softmax-kernel-tests.ts). On a device without a fixed subgroup size it cannot
 * run, and v2 is checked in its place, with a warning.
 */
import { launchSoftmaxBackwardSubgroup, launchSoftmaxSubgroup } from '../../bench/experiments/softmax/subgroup.js';
import { launchSoftmax, launchSoftmaxBackward, subgroupLanes } from '../../kernels/softmax/softmax.js';
import { useDevice } from '../helpers/gpu.js';
import { defineSoftmaxKernelTests, runSoftmaxKernels } from '../helpers/softmax-kernel-tests.js';

const device = useDevice();

defineSoftmaxKernelTests('subgroup (experiment)', (x, dy, rows, cols) => {
  const d = device();
  if (subgroupLanes(d) === null) {
    console.warn('softmax subgroup: this device has no fixed subgroup size; checking v2 in its place');
    const v2 = { forward: launchSoftmax, backward: launchSoftmaxBackward };
    return runSoftmaxKernels(d, (...a) => v2.forward(...a, 'row'), (...a) => v2.backward(...a, 'row'), x, dy, rows, cols);
  }
  return runSoftmaxKernels(d, launchSoftmaxSubgroup, launchSoftmaxBackwardSubgroup, x, dy, rows, cols);
});
