/// <reference types="@webgpu/types" preserve="true" />
/**
 * The GPU device: a Dawn WebGPU device (npm `webgpu`) with the limits and features the kernels need, a buffer pool,
 * a pipeline cache, and one command encoder into which every dispatch of a step is recorded.
 *
 * Work is recorded into a single compute pass (WebGPU makes each dispatch see the writes of the ones before it) and
 * submitted only at sync points: a read, an explicit `flush()`/`sync()`, or every `maxDispatchesPerSubmit`. Errors
 * from Dawn (validation, out-of-memory) are collected as they arrive and thrown at the next sync point with Dawn's
 * message, which names the kernel and shapes through the labels set here; a lost device throws on the next call.
 */
import { adapterForLocalRank, listAdapters } from './adapters.js';
import { create, globals as webgpuGlobals } from 'webgpu';
import { BufferPool, pooledSize, type BufferPoolStats } from './buffer-pool.js';
import { CaptureBuffers, CommandTrace, type CaptureResult, type TraceCommand } from './command-trace.js';
import { DeviceLostError, GpuError, ShapeError } from './errors.js';
import { collectGarbage, NativeObjectCounter } from './native-objects.js';
import { PipelineCache } from './pipeline-cache.js';
import { setQuietWaits, waitForGpu } from './quiet-wait.js';
import { ScratchTextures, type ScratchTexture } from './scratch-textures.js';

export interface DeviceOptions {
  /** Pick the adapter whose name contains this text (Dawn's `adapter=` flag). Env: WEBTRAINER_ADAPTER. */
  adapter?: string;
  /** Dawn backend: 'vulkan', 'metal', 'd3d12', … Env: WEBTRAINER_BACKEND. */
  backend?: string;
  powerPreference?: GPUPowerPreference;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  /** True for CPU implementations (lavapipe, SwiftShader): kernel variants are chosen by this. */
  isSoftware: boolean;
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

/** What a device holds (`Device.resourceStats`). */
export interface DeviceResourceStats {
  bindGroupsCreated: number;
  /** Bind group wrappers not yet collected by V8 (cached, or dropped and awaiting collection). */
  bindGroupsLive: number;
  bindGroupsCached: number;
  uniformBuffersCached: number;
  /** Uniform buffer wrappers not yet collected (a destroyed one has already released its memory). */
  uniformBuffersLive: number;
  pipelines: number;
  /** Pooled storage buffers not destroyed (in use or free for reuse). */
  storageBuffersLive: number;
  storageBytesLive: number;
}

/** One compute dispatch, as a kernel launcher describes it. */
export interface Dispatch {
  /** Kernel name, used in labels, errors and shader dumps. */
  kernel: string;
  /** Fully specialised WGSL with an entry point `main`; binding 0 is `params` when `params` is given. */
  wgsl: string;
  /** Storage buffers (or texture views, for texture bindings), bound in order after the params binding. */
  buffers: (GPUBuffer | GPUTextureView)[];
  /** Packed uniform parameters (see `packParams`). */
  params?: ArrayBuffer;
  workgroups: readonly [number, number?, number?];
  /** Shapes for error messages, e.g. "batch=2 m=7 k=33 n=5". */
  shapes: string;
}

// `webgpu` types its globals as a bare object; these are the two the device uses.
const globals = webgpuGlobals as unknown as { GPUBufferUsage: typeof GPUBufferUsage; GPUMapMode: typeof GPUMapMode };

// Keep the object returned by `create()` alive as long as the device: when it was garbage-collected, later queue
// waits crashed (PEERS.md).
const liveInstances = new Set<GPU>();

/** Under a launcher (LOCAL_RANK and LOCAL_WORLD_SIZE > 1, torchrun's): this rank's adapter, where there are several. */
async function adapterOfLocalRank(): Promise<string | undefined> {
  const localRank = Number(process.env.LOCAL_RANK);
  if (!(Number(process.env.LOCAL_WORLD_SIZE) > 1) || !Number.isInteger(localRank) || localRank < 0) return undefined;
  const { name, warning } = adapterForLocalRank(localRank, await listAdapters());
  if (warning && localRank === 0) process.emitWarning(warning);
  return name ?? undefined;
}

export async function createDevice(options: DeviceOptions = {}): Promise<Device> {
  const adapterName = options.adapter ?? process.env.WEBTRAINER_ADAPTER ?? (await adapterOfLocalRank());
  const backend = options.backend ?? process.env.WEBTRAINER_BACKEND;
  const flags: string[] = [];
  if (adapterName) flags.push(`adapter=${adapterName}`);
  if (backend) flags.push(`backend=${backend}`);
  const gpu = create(flags) as GPU;
  liveInstances.add(gpu);
  Object.assign(globalThis, { GPUBufferUsage: globals.GPUBufferUsage, GPUMapMode: globals.GPUMapMode });
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) {
    throw new GpuError(
      `No WebGPU adapter found${adapterName ? ` matching '${adapterName}'` : ''}. ` +
        'On a machine without a GPU, install Mesa lavapipe (bash scripts/install-lavapipe.sh); ' +
        'run `webtrainer doctor` for details.',
    );
  }
  const features: GPUFeatureName[] = [];
  for (const feature of ['subgroups', 'timestamp-query'] as GPUFeatureName[]) {
    if (adapter.features.has(feature)) features.push(feature);
  }
  const a = adapter.limits;
  // The defaults (16 KB workgroup storage, 128 MB bindings) are too small for good matmul tiles and real models.
  const requiredLimits: Record<string, number> = {
    maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
    maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
    maxBufferSize: a.maxBufferSize,
    maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
    maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: a.maxComputeWorkgroupSizeY,
    maxTextureDimension2D: a.maxTextureDimension2D, // matmul v5's scratch textures can be this wide and tall
  };
  const gpuDevice = await adapter.requestDevice({ requiredFeatures: features, requiredLimits, label: 'webtrainer' });
  return new Device(gpu, adapter, gpuDevice);
}

export class Device {
  readonly info: AdapterSummary;
  readonly limits: GPUSupportedLimits;
  readonly hasSubgroups: boolean;
  /** WGSL reads of storage textures (`texture_storage_2d<…, read>`), which matmul v5 uses. */
  readonly hasReadOnlyStorageTextures: boolean;
  readonly pipelines: PipelineCache;
  readonly scratchTextures: ScratchTextures;
  private readonly storagePool: BufferPool;
  private readonly readbackPool: BufferPool;
  /** Uniform buffers by content, least recently used first (a Map keeps insertion order). */
  private readonly uniforms = new Map<string, GPUBuffer>();
  /** Bind groups by (layout, buffers), least recently used first: a training step binds the same pooled buffers. */
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly nativeObjects = new NativeObjectCounter<'bind group' | 'uniform buffer'>();
  /** Bind groups dropped from the cache since the last full garbage collection (see native-objects.ts). */
  private droppedBindGroups = 0;
  private readonly objectIds = new WeakMap<object, number>();
  private nextObjectId = 0;
  private readonly retired: (GPUBuffer | GPUTexture)[] = [];
  /** The capture under way (command-trace.ts), if any. */
  private capture: { commands: TraceCommand[]; buffers: CaptureBuffers; uniforms: Set<GPUBuffer>; failure: string | null; epoch: number } | null = null;
  /** Uniform buffers bound by live traces, with how many; one evicted from the cache is destroyed when unpinned. */
  private readonly pinnedUniforms = new Map<GPUBuffer, number>();
  private readonly evictedPinned = new Set<GPUBuffer>();
  private epoch = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatchesSinceSubmit = 0;
  private readonly errors: string[] = [];
  private lost: GPUDeviceLostInfo | null = null;
  /** Submit on its own after this many dispatches, so a long recording starts executing early. */
  maxDispatchesPerSubmit = 512;
  /**
   * Tests set this: every buffer handed out is first filled with NaN bit patterns, so a kernel that leaves part of
   * its output unwritten fails its comparison instead of passing on stale data.
   */
  poisonAllocations = false;
  /**
   * Most bind groups (and uniform buffers) kept for reuse. A training step of the default model binds ~300; a run
   * over data of varying lengths binds new ones as shapes and pooled buffers change, and the least recently used
   * are dropped past this.
   */
  cacheCapacity = 4096;
  /** Total dispatches recorded, for the benchmark's fixed-cost accounting. */
  dispatchCount = 0;
  submitCount = 0;

  constructor(
    private readonly gpu: GPU,
    readonly adapter: GPUAdapter,
    readonly gpuDevice: GPUDevice,
  ) {
    const info = adapter.info;
    const description = `${info.description} ${info.device}`.toLowerCase();
    this.info = {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      backend: process.env.WEBTRAINER_BACKEND ?? (process.platform === 'darwin' ? 'metal' : 'vulkan'),
      isSoftware: /llvmpipe|lavapipe|swiftshader|software/.test(description),
      subgroupMinSize: info.subgroupMinSize ?? 0,
      subgroupMaxSize: info.subgroupMaxSize ?? 0,
    };
    setQuietWaits(this.info.isSoftware);
    this.limits = gpuDevice.limits;
    this.hasSubgroups = gpuDevice.features.has('subgroups');
    this.hasReadOnlyStorageTextures = gpu.wgslLanguageFeatures?.has('readonly_and_readwrite_storage_textures') ?? false;
    this.pipelines = new PipelineCache(gpuDevice);
    this.scratchTextures = new ScratchTextures(gpuDevice, (texture) => this.retire(texture));
    const U = globals.GPUBufferUsage;
    this.storagePool = new BufferPool(gpuDevice, U.STORAGE | U.COPY_SRC | U.COPY_DST, 'storage');
    this.readbackPool = new BufferPool(gpuDevice, U.MAP_READ | U.COPY_DST, 'readback');
    gpuDevice.onuncapturederror = (event) => {
      this.errors.push(event.error.message);
    };
    void gpuDevice.lost.then((info) => {
      this.lost = info;
    });
  }

  /** A storage buffer of at least `bytes`, from the pool. Its contents are undefined. */
  allocate(bytes: number, what: string): GPUBuffer {
    this.assertAlive();
    const max = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    if (bytes > max) {
      throw new ShapeError(`${what}: ${bytes} bytes is over this device's largest storage buffer (${max} bytes)`);
    }
    const size = Math.max(bytes, 4);
    const capture = this.capture?.buffers;
    const buffer = capture?.takeHeld(pooledSize(size, max)) ?? this.storagePool.acquire(size, max);
    capture?.allocated(buffer);
    if (this.poisonAllocations) this.upload(buffer, new Uint32Array(buffer.size / 4).fill(0x7fc00001), 0, 'constant');
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (this.capture) this.capture.buffers.released(buffer);
    else this.storagePool.release(buffer);
  }

  /**
   * Moves whenever the device destroys something a captured trace may bind (a replaced scratch texture; uniform
   * buffers a trace binds wait for it instead): a trace replays only in the epoch it was captured in.
   */
  get resourceEpoch(): number {
    return this.epoch;
  }

  /** Starts keeping what is recorded from now on, for `endCapture` to return as a CommandTrace (command-trace.ts). */
  beginCapture(): void {
    this.assertAlive();
    if (this.capture) throw new Error('Device.beginCapture: a capture is already under way');
    this.capture = { commands: [], buffers: new CaptureBuffers(), uniforms: new Set(), failure: null, epoch: this.epoch };
  }

  /**
   * Ends the capture: the commands recorded since `beginCapture`, or no trace and the reason (an upload of new data
   * or a read inside the stretch, or a buffer allocated in it that outlives it: `retry` false; a resource the
   * stretch bound was replaced during it, e.g. a scratch texture grew: `retry` true, the next capture may hold).
   * Everything was recorded as usual either way.
   */
  endCapture(): CaptureResult {
    const capture = this.capture;
    if (!capture) throw new Error('Device.endCapture: no capture is under way');
    this.capture = null;
    const held = capture.buffers.drain();
    const escaped = capture.buffers.escaped;
    const failure =
      capture.failure ??
      (escaped > 0 ? `${escaped} buffer(s) allocated during the capture are still in use after it (a replay would overwrite them)` : null);
    const replaced = this.epoch !== capture.epoch;
    if (failure || replaced) {
      for (const buffer of held) this.storagePool.release(buffer);
      return failure
        ? { trace: null, reason: failure, retry: false }
        : { trace: null, reason: 'the device replaced a resource the captured commands bind (e.g. a scratch texture grew)', retry: true };
    }
    // The trace keeps its uniform buffers alive (an eviction from the cache waits for it), so churn in the uniform
    // cache never voids it.
    const uniforms = [...capture.uniforms];
    for (const u of uniforms) this.pinnedUniforms.set(u, (this.pinnedUniforms.get(u) ?? 0) + 1);
    const dispose = () => {
      for (const buffer of held) this.storagePool.release(buffer);
      for (const u of uniforms) {
        const pins = this.pinnedUniforms.get(u)! - 1;
        if (pins > 0) this.pinnedUniforms.set(u, pins);
        else {
          this.pinnedUniforms.delete(u);
          if (this.evictedPinned.delete(u)) this.retired.push(u);
        }
      }
    };
    return { trace: new CommandTrace(capture.commands, this.epoch, dispose), retry: false };
  }

  /** Records a captured trace's commands again, in order (see command-trace.ts for when that is right). */
  replay(trace: CommandTrace): void {
    this.assertAlive();
    if (this.capture) throw new Error('Device.replay: cannot replay during a capture');
    if (trace.isDisposed) throw new Error('Device.replay: the trace was disposed');
    if (trace.epoch !== this.epoch) {
      throw new Error(`Device.replay: the trace is from resource epoch ${trace.epoch}, the device is at ${this.epoch} (capture again)`);
    }
    for (const command of trace.commands) {
      switch (command.kind) {
        case 'dispatch': {
          const pass = this.computePass();
          pass.setPipeline(command.pipeline);
          pass.setBindGroup(0, command.bindGroup);
          pass.dispatchWorkgroups(command.x, command.y, command.z);
          this.dispatchCount++;
          if (++this.dispatchesSinceSubmit >= this.maxDispatchesPerSubmit) this.flush();
          break;
        }
        case 'copy':
          this.copy(command.source, command.sourceOffset, command.target, command.targetOffset, command.bytes);
          break;
        case 'copyToTexture':
          this.endPass();
          this.commandEncoder().copyBufferToTexture(
            { buffer: command.source, bytesPerRow: command.bytesPerRow },
            { texture: command.texture },
            [command.width, command.rows],
          );
          break;
        case 'write':
          this.upload(command.buffer, command.data, command.byteOffset, 'constant');
          break;
      }
    }
  }

  poolStats(): BufferPoolStats {
    return this.storagePool.snapshot();
  }

  /**
   * Gives the pool's free buffers back to the driver (those in use stay): after a sweep, the device's allocated
   * bytes return to what they were before it. WebGPU destroys a buffer only once submitted work using it is done.
   */
  trimPool(): void {
    this.assertAlive();
    this.flush();
    this.storagePool.trim();
  }

  /**
   * What this device holds on the GPU side: a long run must keep each of these bounded. `bindGroupsLive` counts
   * wrappers not yet collected by V8 (each holds a native descriptor set); it is exact only after V8 has run its
   * finalizers, a task after a collection.
   */
  resourceStats(): DeviceResourceStats {
    const pool = this.storagePool.snapshot();
    return {
      bindGroupsCreated: this.nativeObjects.createdCount('bind group'),
      bindGroupsLive: this.nativeObjects.liveCount('bind group'),
      bindGroupsCached: this.bindGroups.size,
      uniformBuffersCached: this.uniforms.size,
      uniformBuffersLive: this.nativeObjects.liveCount('uniform buffer'),
      pipelines: this.pipelines.size,
      storageBuffersLive: pool.live,
      storageBytesLive: pool.bytesLive,
    };
  }

  /** Records one compute dispatch. Nothing runs until the next submit. */
  dispatch(d: Dispatch): void {
    this.assertAlive();
    const [x, y = 1, z = 1] = d.workgroups;
    const maxGroups = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new ShapeError(
        `${d.kernel} (${d.shapes}): ${x}x${y}x${z} workgroups exceed this device's ${maxGroups} per dimension`,
      );
    }
    if (x === 0 || y === 0 || z === 0) return; // An empty tensor: nothing to do.
    const { pipeline, layout } = this.pipelines.get(d.kernel, d.wgsl);
    const uniform = d.params ? this.uniformBuffer(d.params) : null;
    const buffers = uniform ? [uniform, ...d.buffers] : d.buffers;
    if (uniform) this.capture?.uniforms.add(uniform);
    const bindGroup = this.bindGroup(layout, buffers, `${d.kernel} (${d.shapes})`);
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.capture?.commands.push({ kind: 'dispatch', pipeline, bindGroup, x, y, z });
    this.dispatchCount++;
    if (++this.dispatchesSinceSubmit >= this.maxDispatchesPerSubmit) this.flush();
  }

  /** Records a buffer-to-buffer copy (sizes in bytes, multiples of 4). */
  copy(source: GPUBuffer, sourceOffset: number, target: GPUBuffer, targetOffset: number, bytes: number): void {
    this.assertAlive();
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(source, sourceOffset, target, targetOffset, bytes);
    this.capture?.commands.push({ kind: 'copy', source, sourceOffset, target, targetOffset, bytes });
  }

  /**
   * Records a copy of `rows` rows of `width` texels from `source` (a row every `bytesPerRow` bytes, a multiple of
   * 256) into the top left of a scratch texture (ScratchTextures).
   */
  copyToTexture(
    source: GPUBuffer,
    target: ScratchTexture,
    copy: { width: number; rows: number; bytesPerRow: number },
  ): void {
    this.assertAlive();
    if (copy.rows === 0 || copy.width === 0) return;
    this.endPass();
    this.commandEncoder().copyBufferToTexture(
      { buffer: source, bytesPerRow: copy.bytesPerRow },
      { texture: target.texture },
      [copy.width, copy.rows],
    );
    this.capture?.commands.push({ kind: 'copyToTexture', source, texture: target.texture, ...copy });
  }

  /** Uploads `data` into `buffer`. Pending work is submitted first, so it still sees the buffer's old contents. */
  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.upload(buffer, data, byteOffset, 'data');
  }

  /** A write; during a capture, a 'constant' one is kept with its data and any other makes the capture fail. */
  private upload(buffer: GPUBuffer, data: ArrayBufferView, byteOffset: number, kind: 'constant' | 'data'): void {
    this.assertAlive();
    if (this.encoder) this.flush();
    this.gpuDevice.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
    const capture = this.capture;
    if (!capture) return;
    if (kind === 'constant') {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
      capture.commands.push({ kind: 'write', buffer, byteOffset, data: bytes });
    } else {
      capture.failure ??= `an upload of ${data.byteLength} bytes (${buffer.label}) inside the captured stretch: uploads of new data belong before it`;
    }
  }

  /** Copies `bytes` from `buffer` back to the CPU: a sync point. */
  async read(buffer: GPUBuffer, bytes: number, byteOffset = 0): Promise<ArrayBuffer> {
    this.assertAlive();
    if (this.capture) this.capture.failure ??= 'a read back inside the captured stretch';
    const staging = this.readbackPool.acquire(bytes);
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(buffer, byteOffset, staging, 0, bytes);
    this.flush();
    try {
      await waitForGpu(staging.mapAsync(globals.GPUMapMode.READ, 0, bytes));
    } catch (error) {
      this.throwPendingErrors();
      throw error;
    }
    const copy = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    this.readbackPool.release(staging);
    this.throwPendingErrors();
    return copy;
  }

  /** Submits everything recorded so far without waiting for it. */
  flush(): void {
    this.endPass();
    if (this.encoder) {
      this.gpuDevice.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.submitCount++;
    }
    this.dispatchesSinceSubmit = 0;
    for (const resource of this.retired.splice(0)) resource.destroy();
  }

  /** Submits and waits until the GPU has finished everything; throws any error it reported. */
  async sync(): Promise<void> {
    this.flush();
    await waitForGpu(this.gpuDevice.queue.onSubmittedWorkDone());
    this.throwPendingErrors();
  }

  /** Waits for every shader compiled so far and throws the first that failed. */
  async checkCompiled(): Promise<void> {
    await this.pipelines.checkCompiled();
  }

  destroy(): void {
    this.flush();
    this.storagePool.trim();
    this.readbackPool.trim();
    this.scratchTextures.destroy();
    this.gpuDevice.destroy();
    liveInstances.delete(this.gpu);
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.commandEncoder().beginComputePass();
    return this.pass;
  }

  private commandEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.gpuDevice.createCommandEncoder();
    return this.encoder;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /**
   * The bind group of `resources` (bindings 0, 1, …) for `layout`, made once and reused: creating one was the largest
   * part of a dispatch's CPU cost, which bounds small ops on a real GPU (bench/RESULTS.md). Keyed by object
   * identity; at most `cacheCapacity` are kept, least recently used dropped first. A dropped bind group's native
   * descriptor set lives until V8 collects its wrapper, so after every `cacheCapacity` drops a full collection
   * releases them: live bind groups stay under twice the capacity however long the run (issue 17).
   */
  private bindGroup(
    layout: GPUBindGroupLayout,
    resources: readonly (GPUBuffer | GPUTextureView)[],
    label: string,
  ): GPUBindGroup {
    const key = [layout, ...resources].map((o) => this.objectId(o)).join(',');
    let group = this.bindGroups.get(key);
    if (group) {
      this.bindGroups.delete(key); // re-inserted below: most recently used last
    } else {
      const entries = resources.map((resource, binding) => ({
        binding,
        resource: isBuffer(resource) ? { buffer: resource } : resource,
      }));
      group = this.nativeObjects.track('bind group', this.gpuDevice.createBindGroup({ layout, entries, label }));
      if (this.bindGroups.size >= this.cacheCapacity) this.dropLeastRecentBindGroup();
    }
    this.bindGroups.set(key, group);
    return group;
  }

  private dropLeastRecentBindGroup(): void {
    const oldest = this.bindGroups.keys().next().value as string;
    this.bindGroups.delete(oldest);
    // Commands already recorded keep their own reference to the native object (Dawn counts references), so dropping
    // the wrapper is safe before they are submitted.
    if (++this.droppedBindGroups >= this.cacheCapacity) {
      this.droppedBindGroups = 0;
      collectGarbage();
    }
  }

  private objectId(o: object): number {
    let id = this.objectIds.get(o);
    if (id === undefined) this.objectIds.set(o, (id = this.nextObjectId++));
    return id;
  }

  /**
   * Uniform buffers are cached by content: a training loop repeats the same few shapes, so after the first step no
   * uniform buffer is created. At most `cacheCapacity` are kept; the least recently used is destroyed once the work
   * recorded so far is submitted.
   */
  private uniformBuffer(params: ArrayBuffer): GPUBuffer {
    const key = new Uint32Array(params).join(',');
    let buffer = this.uniforms.get(key);
    if (buffer) {
      this.uniforms.delete(key); // re-inserted below: most recently used last
    } else {
      if (this.uniforms.size >= this.cacheCapacity) {
        const oldest = this.uniforms.keys().next().value as string;
        const evicted = this.uniforms.get(oldest)!;
        this.uniforms.delete(oldest);
        if (this.pinnedUniforms.has(evicted)) this.evictedPinned.add(evicted);
        else this.retired.push(evicted); // no trace binds it: nothing to void
      }
      const U = globals.GPUBufferUsage;
      buffer = this.gpuDevice.createBuffer({ size: params.byteLength, usage: U.UNIFORM, mappedAtCreation: true });
      this.nativeObjects.track('uniform buffer', buffer);
      new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(params));
      buffer.unmap();
    }
    this.uniforms.set(key, buffer);
    return buffer;
  }

  /** Destroys `resource` once the work recorded so far is submitted; traces may have bound it: they are void. */
  private retire(resource: GPUBuffer | GPUTexture): void {
    this.retired.push(resource);
    this.epoch++;
  }

  private assertAlive(): void {
    if (this.lost) {
      throw new DeviceLostError(`GPU device lost (${this.lost.reason}): ${this.lost.message}`);
    }
  }

  private throwPendingErrors(): void {
    this.pipelines.throwFailures();
    this.assertAlive();
    if (this.errors.length > 0) {
      const messages = this.errors.splice(0);
      throw new GpuError(`GPU error: ${messages[0]}${messages.length > 1 ? `\n(+${messages.length - 1} more)` : ''}`);
    }
  }
}

/**
 * Packs uniform parameters: every u32 first, then every f32, padded to 16 bytes. The WGSL `Params` struct declares
 * its fields in the same order.
 */
export function packParams(u32: readonly number[], f32: readonly number[] = []): ArrayBuffer {
  const words = u32.length + f32.length;
  const buffer = new ArrayBuffer(Math.max(16, Math.ceil((words * 4) / 16) * 16));
  const asU32 = new Uint32Array(buffer);
  const asF32 = new Float32Array(buffer);
  u32.forEach((value, i) => {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new ShapeError(`kernel parameter ${i} must be an unsigned 32-bit integer, got ${value}`);
    }
    asU32[i] = value;
  });
  f32.forEach((value, i) => (asF32[u32.length + i] = value));
  return buffer;
}

function isBuffer(resource: GPUBuffer | GPUTextureView): resource is GPUBuffer {
  return 'mapAsync' in resource;
}
