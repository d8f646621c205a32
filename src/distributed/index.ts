/** Public API of the distributed layer: a collective over TCP for ranks on one machine or several (no GPU code). */
export { initCollective } from './init-collective.js';
export type { InitCollectiveOptions } from './init-collective.js';
export type { Collective, ReduceOp } from './collective.js';
export { TcpCollective } from './tcp-collective.js';
export { SoloCollective } from './solo-collective.js';
export { broadcastArrays, allReduceArrays } from './packed-arrays.js';
export {
  readLaunchEnvironment,
  launchVariables,
  LAUNCH_VARIABLES,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
} from './launch-environment.js';
export type { LaunchEnvironment } from './launch-environment.js';
export { CollectiveError, LaunchEnvironmentError } from './errors.js';
export type { CollectiveFailureKind } from './errors.js';
export { freePort } from './free-port.js';
