/**
 * The one entry a program calls: `const group = await initCollective()` reads the launch variables
 * (launch-environment.ts) and returns this rank's collective, or a group of one where the process was not
 * launched as a group, so the same training code runs with one process or many.
 */
import type { Collective } from './collective.js';
import { readLaunchEnvironment, type LaunchEnvironment } from './launch-environment.js';
import { SoloCollective } from './solo-collective.js';
import { TcpCollective } from './tcp-collective.js';

export interface InitCollectiveOptions {
  /** Default: read from process.env (null: run alone). */
  environment?: LaunchEnvironment | null;
  /** Override the environment's limit on one call (ms). */
  timeoutMs?: number;
  /** Override the environment's limit on the rendezvous (ms). */
  connectTimeoutMs?: number;
}

export async function initCollective(options: InitCollectiveOptions = {}): Promise<Collective> {
  const environment = options.environment === undefined ? readLaunchEnvironment() : options.environment;
  if (!environment || environment.worldSize === 1) return new SoloCollective();
  return TcpCollective.connect({
    ...environment,
    timeoutMs: options.timeoutMs ?? environment.timeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? environment.connectTimeoutMs,
  });
}
