/**
 * A search space as an Optuna, Ray Tune or W&B user writes it, resolved into what a study runs: a function of a
 * trial giving its configuration, a sampler, a pruner and a direction. Hugging Face's defaults per backend
 * (transformers `integrations/integration_utils.py`); the training side is in src/train/hyperparameter-search.ts.
 */
import type { Direction } from '../frozen-trial.js';
import { MedianPruner } from '../pruners/median.js';
import { NopPruner } from '../pruners/nop.js';
import type { Pruner } from '../pruners/pruner.js';
import { defaultSampler } from '../samplers/default-sampler.js';
import { NSGAIISampler } from '../samplers/nsga2.js';
import { RandomSampler } from '../samplers/random.js';
import type { Sampler } from '../samplers/sampler.js';
import type { Callback } from '../study.js';
import type { Trial } from '../trial.js';
import { defaultHpSpaceOptuna, defaultHpSpaceRay, defaultHpSpaceWandb } from './hf-defaults.js';
import type { HpSpace } from './optuna.js';
import type { SpaceValue } from './param-spec.js';
import { raySpace, type RayConfig } from './ray.js';
import { wandbSweep, type WandbSweepConfig } from './wandb.js';

export type SearchBackend = 'optuna' | 'ray' | 'wandb';

/** What decides a search's space, sampler, pruner and direction (a subset of hyperparameterSearch's options). */
export interface SpaceOptions {
  direction?: Direction;
  directions?: Direction[];
  backend?: SearchBackend;
  /** optuna: (trial) => params; ray: a tune config (or a function returning one); wandb: a sweep config (or one). */
  hpSpace?: HpSpace | RayConfig | WandbSweepConfig | (() => RayConfig | WandbSweepConfig);
  sampler?: Sampler;
  pruner?: Pruner;
  seed?: number;
}

export interface ResolvedSpace {
  hpSpace: (trial: Trial) => Record<string, SpaceValue>;
  sampler: Sampler;
  pruner: Pruner;
  direction: Direction;
  /** Trials to run for the requested nTrials in a study holding `existing` (Ray: a grid per sample; W&B: run_cap). */
  trialCount?: (requested: number, existing: number) => number;
  /** Study callbacks the space brings (W&B's metric.target). */
  callbacks?: Callback[];
}

/**
 * The space, sampler, pruner and direction a backend's space implies (explicit options win).
 * optuna: Optuna's `create_study` defaults, TPE (NSGA-II when there are several directions) and MedianPruner.
 * With several directions, ray's sampled parameters and a wandb `bayes` sweep use NSGA-II too (TPE here is
 * single-objective; Optuna's choice for several objectives).
 */
export function resolveSpace(options: SpaceOptions): ResolvedSpace {
  const backend = options.backend ?? 'optuna';
  const seed = options.seed;
  const given = options.hpSpace;
  const multiObjective = (options.directions?.length ?? 1) > 1;
  switch (backend) {
    case 'optuna': {
      const hpSpace = (given as HpSpace | undefined) ?? defaultHpSpaceOptuna;
      if (typeof hpSpace !== 'function') throw new Error("hpSpace for backend 'optuna' must be a function (trial) => params");
      return {
        hpSpace,
        sampler: options.sampler ?? defaultSampler(options.directions ?? [options.direction ?? 'minimize'], seed),
        pruner: options.pruner ?? new MedianPruner(),
        direction: options.direction ?? 'minimize',
      };
    }
    case 'ray': {
      const config = (typeof given === 'function' ? (given as () => RayConfig)() : (given as RayConfig | undefined)) ?? defaultHpSpaceRay();
      const space = raySpace(config);
      const fallback = multiObjective ? new NSGAIISampler({ seed }) : new RandomSampler({ seed });
      return {
        hpSpace: space.hpSpace,
        sampler: options.sampler ?? space.sampler({ seed, fallback }),
        pruner: options.pruner ?? new NopPruner(),
        direction: options.direction ?? 'minimize',
        trialCount: space.trialCount,
      };
    }
    case 'wandb': {
      const config = (typeof given === 'function' ? (given as () => WandbSweepConfig)() : (given as WandbSweepConfig | undefined)) ?? defaultHpSpaceWandb();
      // HF's run_hp_search_wandb sets the sweep's metric goal to `direction` (default 'minimize').
      const sweep = wandbSweep(config, { direction: options.direction ?? 'minimize' });
      return {
        hpSpace: sweep.hpSpace,
        sampler: options.sampler ?? (multiObjective && config.method === 'bayes' ? new NSGAIISampler({ seed }) : sweep.sampler({ seed })),
        pruner: options.pruner ?? sweep.pruner,
        direction: sweep.direction,
        trialCount: sweep.trialCount,
        callbacks: sweep.callbacks,
      };
    }
    default:
      throw new Error(`hyperparameterSearch: backend '${String(backend)}' must be optuna, ray or wandb`);
  }
}

