/**
 * The sampler a study gets when none is given, as Optuna 3.1's `create_study` (optuna/study/study.py):
 * TPESampler for one objective, NSGAIISampler for several (TPE here is single-objective).
 */
import type { Direction } from '../frozen-trial.js';
import { NSGAIISampler } from './nsga2.js';
import type { Sampler } from './sampler.js';
import { TPESampler } from './tpe/sampler.js';

export function defaultSampler(directions: readonly Direction[], seed?: number): Sampler {
  return directions.length > 1 ? new NSGAIISampler({ seed }) : new TPESampler({ seed });
}
