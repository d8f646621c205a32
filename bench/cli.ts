/**
 * The `bench` command: kernel speed, training speed and sampler quality, each next to its peers measured in the
 * same run. It is bench code (it times the package as a user runs it), so src/ does not import it: bin/webtrainer.js
 * hands it to the CLI's main.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../src/cli/args.js';

/** `webtrainer bench kernels|train|samplers|sweep`: main.ts runs this when bin/webtrainer.js passes it in. */
export async function runBench(args: string[]): Promise<number> {
  const [what, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      rounds: { type: 'string' },
    },
    strict: true,
  });
  if (values.only && what !== 'kernels') throw new UsageError(`--only is an option of bench kernels, not of bench ${what}`);
  if (values.rounds !== undefined && what !== 'sweep') throw new UsageError(`--rounds is an option of bench sweep, not of bench ${what}`);
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1)) throw new UsageError(`--rounds must be a positive integer, got '${values.rounds}'`);
  switch (what) {
    case 'kernels': {
      const { benchKernels, formatKernelReport } = await import('./kernels.js');
      const report = await benchKernels({
        quick: values.quick,
        json: values.json,
        only: (values.only ?? []).flatMap((o) => o.split(',')).filter(Boolean),
      });
      process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatKernelReport(report));
      return 0;
    }
    case 'train': {
      const { benchTrain, formatTrainReport } = await import('./train.js');
      const report = await benchTrain({ quick: values.quick, json: values.json });
      process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatTrainReport(report));
      return 0;
    }
    case 'samplers': {
      const { benchSamplers, formatReport } = await import('./samplers.js');
      const report = await benchSamplers({ quick: values.quick, json: values.json, silent: values.json });
      process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
      return 0;
    }
    case 'sweep': {
      const { benchSweep, formatSweepReport } = await import('./sweep.js');
      const report = await benchSweep({ quick: values.quick, json: values.json, rounds });
      process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatSweepReport(report));
      return 0;
    }
    case 'allreduce': {
      const { benchAllReduce, formatAllReduceReport } = await import('./allreduce.js');
      const report = await benchAllReduce({ quick: values.quick, json: values.json });
      process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatAllReduceReport(report));
      return 0;
    }
    default:
      throw new UsageError(`unknown benchmark '${what ?? ''}' (expected: kernels, train, samplers, sweep or allreduce)`);
  }
}
