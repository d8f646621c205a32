/**
 * The `webtrainer` command line. Each subcommand lives in its own module; this file only routes and parses.
 * Exit codes: 0 success, 1 failure of the job, 2 bad usage.
 */
import { parseArgs } from 'node:util';
import { formatDoctor, runDoctor } from './doctor.js';
import { runSweep } from './sweep.js';
import { runTrain } from './train.js';
import { UsageError } from './args.js';

const USAGE = `usage: webtrainer <command> [options]

commands:
  doctor [--json]                  the WebGPU adapter, its limits and a self-test
  train [--train FILE] [--eval FILE] [--text-column C] [--label-column C] [--json]
        [--<training argument> V] [--model-<config key> V]
                                   train a text classifier (default: the bundled SST-2 sample)
  sweep [--config FILE.json|.yaml] [--storage sqlite:PATH] [--study-name N] [--n-trials N] [--slots N] [--json]
                                   hyperparameter search (default: a small sweep on the bundled SST-2 sample)
  bench kernels [--quick] [--json] [--only op[:shape],...]
                                   kernel speed next to tfjs-webgpu and jax-js, with the device's ceilings
  bench train [--quick] [--json]   training samples/s of the default model next to the same model in tfjs and jax-js
  bench samplers [--quick] [--json] Random, QMC and TPE on standard test functions over 30 seeds
  help                             this text
`;

export { UsageError };

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    switch (command) {
      case 'doctor':
        return await doctor(rest);
      case 'bench':
        return await bench(rest);
      case 'train':
        return await runTrain(rest);
      case 'sweep':
        return await runSweep(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`webtrainer: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`webtrainer: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

async function doctor(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, strict: true });
  const report = await runDoctor();
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatDoctor(report));
  return report.ok ? 0 : 1;
}

async function bench(args: string[]): Promise<number> {
  const [what, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
    },
    strict: true,
  });
  if (values.only && what !== 'kernels') throw new UsageError(`--only is an option of bench kernels, not of bench ${what}`);
  switch (what) {
    case 'kernels': {
      const { benchKernels, formatKernelReport } = await import('../../bench/kernels.js');
      const report = await benchKernels({
        quick: values.quick,
        json: values.json,
        only: (values.only ?? []).flatMap((o) => o.split(',')).filter(Boolean),
      });
      process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatKernelReport(report));
      return 0;
    }
    case 'train': {
      const { benchTrain, formatTrainReport } = await import('../../bench/train.js');
      const report = await benchTrain({ quick: values.quick, json: values.json });
      process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatTrainReport(report));
      return 0;
    }
    case 'samplers': {
      const { benchSamplers, formatReport } = await import('../../bench/samplers.js');
      const report = await benchSamplers({ quick: values.quick, json: values.json, silent: values.json });
      process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
      return 0;
    }
    default:
      throw new UsageError(`unknown benchmark '${what ?? ''}' (expected: kernels, train or samplers)`);
  }
}
