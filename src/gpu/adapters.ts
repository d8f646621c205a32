/**
 * Which adapter a rank takes. torchrun's LOCAL_RANK numbers the ranks of one machine; where the machine has several
 * adapters, rank k takes the k-th (mod their count), otherwise every rank shares the one there is. Dawn's Node
 * binding selects an adapter by name (its `adapter=` flag) and lists the names only in the error it gives for an
 * unknown one, so that list is read from there. Adapters with the same name (two GPUs of one model) cannot be told
 * apart that way: they are counted once, and the ranks share the first (a warning says so).
 */
import { create } from 'webgpu';

const listingInstances: GPU[] = [];

export interface AdapterName {
  backend: string;
  name: string;
}

/** Parses Dawn's "Available adapters:\n * backend: 'vulkan', name: 'llvmpipe (…)'" list. */
export function parseAdapterList(message: string): AdapterName[] {
  return [...message.matchAll(/^\s*\*\s*backend:\s*'([^']*)',\s*name:\s*'([^']*)'\s*$/gm)].map(([, backend, name]) => ({ backend, name }));
}

/** The adapters Dawn offers here, by name (asks for one that does not exist and reads the list in the error). */
export async function listAdapters(): Promise<AdapterName[]> {
  const gpu = create(['adapter=__webtrainer_list_adapters__']) as GPU;
  listingInstances.push(gpu); // kept alive, as device.ts keeps its instances (collecting one has crashed Dawn)
  try {
    await gpu.requestAdapter();
    return [];
  } catch (error) {
    return parseAdapterList(String((error as Error).message ?? error));
  }
}

/**
 * The adapter name for local rank `localRank`: null to take the default one (a single adapter, or none told apart).
 * Hardware adapters are preferred to software ones (lavapipe, SwiftShader) when both are there.
 */
export function adapterForLocalRank(localRank: number, adapters: readonly AdapterName[]): { name: string | null; warning: string | null } {
  const software = (a: AdapterName) => /llvmpipe|lavapipe|swiftshader|software/i.test(a.name);
  const hardware = adapters.filter((a) => !software(a));
  const pool = hardware.length > 0 ? hardware : adapters;
  const names = [...new Set(pool.map((a) => a.name))];
  const warning = names.length < pool.length ? `${pool.length} adapters share the name '${names[0]}'; Dawn selects by name, so ranks on this machine share the first` : null;
  if (names.length <= 1) return { name: null, warning };
  return { name: names[localRank % names.length], warning };
}
