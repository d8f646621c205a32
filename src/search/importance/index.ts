/** Hyperparameter importance (pure functions over frozen trials; no storage, no GPU). */
export { pedAnovaImportance, quantileFilter, searchSpace, type PedAnovaOptions } from './ped-anova.js';
export { importancePerObjective, objectiveTarget } from './per-objective.js';
