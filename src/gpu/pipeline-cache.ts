/**
 * Compute pipelines compiled once per kernel specialisation (the final WGSL text is the key) and cached.
 *
 * Compilation in WebGPU reports errors asynchronously, so each compile is wrapped in an error scope whose result is
 * kept: the Device throws a `ShaderCompileError` (kernel name + numbered WGSL) at the next sync point, and
 * `checkCompiled()` lets a caller wait for the verdict at once. Set WEBTRAINER_DUMP_SHADERS=DIR to write every
 * shader to DIR as `<kernel>-<n>.wgsl` when it is first compiled.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShaderCompileError } from './errors.js';

export interface CompiledKernel {
  readonly kernel: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

export class PipelineCache {
  private readonly pipelines = new Map<string, CompiledKernel>();
  private readonly verdicts: Promise<ShaderCompileError | null>[] = [];
  private readonly failures: ShaderCompileError[] = [];
  private readonly dumpDir = process.env.WEBTRAINER_DUMP_SHADERS;

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  get(kernel: string, wgsl: string): CompiledKernel {
    const cached = this.pipelines.get(wgsl);
    if (cached) return cached;
    if (this.dumpDir) {
      mkdirSync(this.dumpDir, { recursive: true });
      writeFileSync(join(this.dumpDir, `${kernel}-${this.pipelines.size}.wgsl`), wgsl);
    }
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code: wgsl, label: kernel });
    const pipeline = this.device.createComputePipeline({
      layout: 'auto',
      compute: { module, entryPoint: 'main' },
      label: kernel,
    });
    const verdict = this.device.popErrorScope().then((error) => {
      if (!error) return null;
      const failure = new ShaderCompileError(kernel, error.message, wgsl);
      this.failures.push(failure);
      return failure;
    });
    this.verdicts.push(verdict);
    const compiled = { kernel, pipeline, layout: pipeline.getBindGroupLayout(0) };
    this.pipelines.set(wgsl, compiled);
    return compiled;
  }

  /** Waits for every compile started so far and throws the first failure. */
  async checkCompiled(): Promise<void> {
    const pending = this.verdicts.splice(0);
    await Promise.all(pending);
    this.throwFailures();
  }

  /** Throws a compile failure already known (no waiting). */
  throwFailures(): void {
    const failure = this.failures[0];
    if (failure) throw failure;
  }
}
