/**
 * The `webtrainer` command line. Each subcommand lives in its own module; this file only routes and parses.
 * Exit codes, the same for every command: 0 success, 1 failure of the job, 2 bad usage (unknown command or
 * option, bad value), 130 interrupted (SIGINT, SIGTERM or SIGHUP). Errors print as `webtrainer: <message>`;
 * the JavaScript stack only with --debug or WEBTRAINER_DEBUG=1.
 */
import { parseArgs } from 'node:util';
import { runDashboard } from './dashboard.js';
import { runLaunch } from './launch.js';
import { formatDoctor, runDoctor } from './doctor.js';
import { runReport } from './report.js';
import { runSweep } from './sweep.js';
import { runTrain } from './train.js';
import { UsageError } from './args.js';
import { InterruptedError } from './interrupt.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

const USAGE = `usage: webtrainer <command> [options]

commands:
  doctor [--json]                  the WebGPU adapter, its limits and a self-test
  train [--train FILE] [--eval FILE] [--text-column C] [--label-column C] [--json]
        [--<training argument> V] [--model-<config key> V]
                                   train a text classifier (default: the bundled SST-2 sample)
  sweep [--config FILE.json|.yaml] [--storage sqlite:PATH|postgresql://…] [--study-name N] [--n-trials N] [--slots N|auto] [--json]
        [--heartbeat-interval S]
                                   hyperparameter search (default: a small sweep on the bundled SST-2 sample)
  report --storage sqlite:PATH|postgresql://… [--study-name N] --out FILE.html
                                   a self-contained HTML report of a study (plots, importance, trial table; offline)
  dashboard --storage sqlite:PATH|postgresql://… [--port P] [--host H]
                                   the report's views of every study in the storage, live while a sweep runs;
                                   read-only, on http://127.0.0.1:8080/ unless told (--port 0 picks a free port)
  bench kernels [--quick] [--json] [--only op[:shape],...]
                                   kernel speed next to tfjs-webgpu and jax-js, with the device's ceilings
  bench train [--quick] [--json]   training samples/s of the default model next to the same model in tfjs and jax-js
  bench samplers [--quick] [--json] Random, QMC and TPE (uni/multivariate) on 11 problems, next to Optuna
  launch --nproc N [--nnodes M --node-rank R --master-addr A --master-port P] -- train|sweep …
                                   N ranks, one device each, training data-parallel (torchrun's variables;
                                   rank 0 owns a sweep's study and prints); see README, Running across devices
  bench allreduce [--quick] [--json] all-reduce GB/s over loopback next to the raw socket's, 1 to 64 MB
  bench sweep [--quick] [--json] [--rounds N]
                                   the same ASHA sweep with K = 1, 2, 4, 8 (16) fused slots: trials/hour against K = 1
                                   (each K's median of N rounds; 3 in the full run, 1 with --quick)
  help                             this text

options of every command:
  --debug                          print the JavaScript stack with an error (or set WEBTRAINER_DEBUG=1)

exit codes: 0 ok, 1 failure, 2 usage (unknown command or option, bad value),
            130 interrupted (Ctrl-C, SIGTERM or SIGHUP: the command stops at a safe point)
`;

export { UsageError };

/** Commands whose code lives outside src/ (bench/): the caller supplies them. */
export interface ExtraCommands {
  bench?: (args: string[]) => Promise<number>;
}

export async function main(argv: string[], commands: ExtraCommands = {}): Promise<number> {
  // After `launch … --`, the arguments are the ranks' command's, --debug and --help included.
  const split = argv[0] === 'launch' && argv.includes('--') ? argv.indexOf('--') : argv.length;
  const own = argv.slice(0, split);
  const debug = own.includes('--debug') || process.env.WEBTRAINER_DEBUG === '1';
  const [command, ...rest] = [...own.filter((arg) => arg !== '--debug'), ...argv.slice(split)];
  if (own.slice(1).includes('--help') || own.slice(1).includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    switch (command) {
      case 'doctor':
        return await doctor(rest);
      case 'bench':
        // The benchmarks live in bench/ (they use the package as a user does); bin/webtrainer.js passes them in.
        if (!commands.bench) throw new UsageError("'bench' runs from the webtrainer command (bin/webtrainer.js)");
        return await commands.bench(rest);
      case 'train':
        return await runTrain(rest);
      case 'sweep':
        return await runSweep(rest);
      case 'report':
        return await runReport(rest);
      case 'launch':
        return await runLaunch(rest);
      case 'dashboard':
        return await runDashboard(rest);
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
    return reportError(error, debug);
  }
}

/** Prints an error the way every command does and returns its exit code. */
export function reportError(error: unknown, debug: boolean): number {
  const message = error instanceof Error ? error.message : String(error);
  const stack = debug && error instanceof Error ? `\n${stackWithCauses(error)}` : '';
  if (error instanceof UsageError || (error as { code?: string } | null)?.code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`webtrainer: ${message}${stack}\n\n${USAGE}`);
    return EXIT.usage;
  }
  process.stderr.write(`webtrainer: ${message}${stack}\n`);
  return error instanceof InterruptedError ? EXIT.interrupted : EXIT.failure;
}

function stackWithCauses(error: Error): string {
  const lines = [error.stack ?? error.message];
  for (let cause = error.cause; cause instanceof Error; cause = cause.cause) lines.push(`caused by: ${cause.stack ?? cause.message}`);
  return lines.join('\n');
}

async function doctor(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, strict: true });
  const report = await runDoctor();
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatDoctor(report));
  return report.ok ? 0 : 1;
}

