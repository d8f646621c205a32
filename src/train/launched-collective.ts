/**
 * The collective of a process started as one rank of a group (the launch variables: src/distributed
 * launch-environment.ts), joined once per process on first use and shared by every Trainer in it: a rank meets the
 * others at the master address once. Null for a process started alone.
 */
import type { Collective } from '../distributed/collective.js';
import { initCollective } from '../distributed/init-collective.js';
import { readLaunchEnvironment } from '../distributed/launch-environment.js';

let joined: Promise<Collective> | null = null;

export async function launchedCollective(): Promise<Collective | null> {
  const environment = readLaunchEnvironment();
  if (!environment || environment.worldSize === 1) return null;
  joined ??= initCollective({ environment });
  return joined;
}
