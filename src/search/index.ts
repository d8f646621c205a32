/** Public API of the hyperparameter-search layer (no GPU code: it only talks to an objective function). */
export { createStudy, loadStudy, Study } from './study.js';
export type { CreateStudyOptions, LoadStudyOptions, Objective, ObjectiveResult, OptimizeOptions, Callback, TellInput } from './study.js';
export { Trial } from './trial.js';
export { failStaleTrials } from './heartbeat.js';
export type { HeartbeatOptions, FailedTrialCallback } from './heartbeat.js';
export { RetryFailedTrialCallback } from './retry-failed-trial-callback.js';
export type { RetryFailedTrialCallbackOptions } from './retry-failed-trial-callback.js';
export type { FrozenTrial, TrialState, Direction } from './frozen-trial.js';
export { TrialPruned, DistributionError, StudyError } from './errors.js';
export {
  FloatDistribution,
  IntDistribution,
  CategoricalDistribution,
  distributionToJSON,
  distributionFromJSON,
  checkDistributionCompatibility,
} from './distributions.js';
export type { Distribution, ParamValue, CategoricalChoice } from './distributions.js';
export { getStorage, InMemoryStorage, SqliteStorage, PostgresStorage, PostgresStorageError, SCHEMA_VERSION, redactPostgresUrl } from './storage/index.js';
export type { StudyStorage, PostgresStorageOptions } from './storage/index.js';
export type { Sampler, SearchSpace } from './samplers/sampler.js';
export { RandomSampler } from './samplers/random.js';
export { GridSampler } from './samplers/grid.js';
export { TPESampler } from './samplers/tpe/sampler.js';
export type { TPESamplerOptions } from './samplers/tpe/sampler.js';
export { QMCSampler } from './samplers/qmc.js';
export { NSGAIISampler } from './samplers/nsga2.js';
export type { Pruner } from './pruners/pruner.js';
export { NopPruner } from './pruners/nop.js';
export { MedianPruner } from './pruners/median.js';
export { PercentilePruner } from './pruners/percentile.js';
export { SuccessiveHalvingPruner } from './pruners/successive-halving.js';
export { HyperbandPruner } from './pruners/hyperband.js';
export { ThresholdPruner } from './pruners/threshold.js';
export { PatientPruner } from './pruners/patient.js';
export { optunaSpace, type HpSpace } from './spaces/optuna.js';
export { tune, raySpace, type RayConfig, type RayDomain } from './spaces/ray.js';
export { wandbSweep, type WandbSweepConfig } from './spaces/wandb.js';
export { defaultHpSpaceOptuna, defaultHpSpaceRay, defaultHpSpaceWandb, defaultComputeObjective } from './spaces/hf-defaults.js';
export { pedAnovaImportance, type PedAnovaOptions } from './importance/index.js';
export { buildReport, type BuildReportOptions } from './report/index.js';
export { startDashboard, type Dashboard, type DashboardOptions } from './dashboard/index.js';
