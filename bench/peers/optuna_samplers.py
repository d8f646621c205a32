#!/usr/bin/env python3
"""Optuna's side of `webtrainer bench samplers` (bench/samplers.ts runs this; a bench tool only).

Runs real Optuna on the problems of bench/functions.ts -- same names, parameter names, ranges, suggestion
order and formulas -- with the same protocol: for each problem, sampler and seed 0..seeds-1, one study of
max(budgets) trials, and the best value within each budget.

Input (stdin, JSON):
  {"mode": "run", "problems": [names], "samplers": ["Random", "QMC", "TPE", "TPE-mv"], "seeds": 30,
   "budgets": [25, 50, 100]}
  {"mode": "eval", "points": [{"problem": name, "params": {...}}]}   -> the objective at fixed parameters
Output (stdout, JSON): {"optuna": version, "numpy": version, "python": version, "skipped": {sampler: why},
  "runs": [{"problem", "sampler", "seed", "best": [one per budget]}]} or {"values": [...]} for "eval".
Exit 3 with a message on stderr when Optuna cannot be imported.
Samplers: Random = RandomSampler(seed), QMC = QMCSampler(seed) (needs SciPy), TPE = TPESampler(seed),
TPE-mv = TPESampler(seed, multivariate=True); everything else at Optuna's defaults.
Debian's python3-optuna (3.1.0) is the intended peer (`/usr/bin/python3`); any Optuna >= 3.0 on sys.path works.
"""
import json
import math
import sys
import time
import warnings


def _box(name, bounds, optimum, f):
    def objective(t):
        return f([t.suggest_float(f"x{i}", lo, hi) for i, (lo, hi) in enumerate(bounds)])

    return {"name": name, "dim": len(bounds), "optimum": optimum, "objective": objective}


def _branin(x):
    x1, x2 = x
    b = 5.1 / (4 * math.pi**2)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def _camel(x):
    x1, x2 = x
    return (4 - 2.1 * x1 * x1 + x1**4 / 3) * x1 * x1 + x1 * x2 + (-4 + 4 * x2 * x2) * x2 * x2


def _rosenbrock(x):
    return sum(100 * (x[i + 1] - x[i] * x[i]) ** 2 + (x[i] - 1) ** 2 for i in range(len(x) - 1))


def _ackley(x):
    d = len(x)
    s1 = sum(v * v for v in x) / d
    s2 = sum(math.cos(2 * math.pi * v) for v in x) / d
    return -20 * math.exp(-0.2 * math.sqrt(s1)) - math.exp(s2) + 20 + math.e


def _rastrigin(x):
    return 10 * len(x) + sum(v * v - 10 * math.cos(2 * math.pi * v) for v in x)


_H_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
_H_P = [
    [v * 1e-4 for v in r]
    for r in [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
]
_H_ALPHA = [1, 1.2, 3, 3.2]


def _hartmann6(x):
    return -sum(
        a * math.exp(-sum(_H_A[i][j] * (xj - _H_P[i][j]) ** 2 for j, xj in enumerate(x))) for i, a in enumerate(_H_ALPHA)
    )


def _levy(x):
    w = [1 + (v - 1) / 4 for v in x]
    d = len(w)
    s = math.sin(math.pi * w[0]) ** 2
    for i in range(d - 1):
        s += (w[i] - 1) ** 2 * (1 + 10 * math.sin(math.pi * w[i] + 1) ** 2)
    return s + (w[d - 1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[d - 1]) ** 2)


def _styblinski_tang(x):
    return sum((v**4 - 16 * v * v + 5 * v) / 2 for v in x)


def _griewank(x):
    p = 1.0
    for i, v in enumerate(x):
        p *= math.cos(v / math.sqrt(i + 1))
    return sum(v * v / 4000 for v in x) - p + 1


def _sphere(x):
    return sum(v * v for v in x)


_HPO_BASE_LR = {"sgd": 0.1, "adam": 1e-3, "adamw": 3e-3}
_HPO_OPT_PENALTY = {"sgd": 0.05, "adam": 0.02, "adamw": 0}
_HPO_BATCH_PENALTY = {16: 0.03, 32: 0, 64: 0.01, 128: 0.04, 256: 0.08}


def _hpo_mlp(t):
    opt = t.suggest_categorical("optimizer", ["sgd", "adam", "adamw"])
    lr = t.suggest_float("lr", 1e-5, 1, log=True)
    loss = 0.25 + _HPO_OPT_PENALTY[opt]
    if opt == "sgd":
        loss += 0.3 * (t.suggest_float("momentum", 0, 0.99) - 0.9) ** 2
    batch = t.suggest_categorical("batch_size", [16, 32, 64, 128, 256])
    layers = t.suggest_int("layers", 1, 8)
    hidden = t.suggest_int("hidden", 16, 1024, log=True)
    dropout = t.suggest_float("dropout", 0, 0.5, step=0.05)
    wd = t.suggest_float("weight_decay", 1e-6, 0.1, log=True)
    loss += 0.08 * (math.log10(lr) - math.log10(_HPO_BASE_LR[opt] * batch / 32)) ** 2
    loss += _HPO_BATCH_PENALTY[batch]
    loss += 0.01 * (layers - 3) ** 2
    loss += 0.02 * (math.log2(hidden) - 8) ** 2
    loss += 0.5 * (dropout - 0.05 * (layers - 1)) ** 2
    loss += (0.01 if opt == "adamw" else 0.005) * (math.log10(wd) + 4) ** 2
    return loss


PROBLEMS = {
    p["name"]: p
    for p in [
        _box("Branin", [(-5, 10), (0, 15)], 0.39788735772973816, _branin),
        _box("Six-Hump-Camel", [(-3, 3), (-2, 2)], -1.0316284534898774, _camel),
        _box("Rosenbrock-4", [(-5, 10)] * 4, 0, _rosenbrock),
        _box("Ackley-5", [(-32.768, 32.768)] * 5, 0, _ackley),
        _box("Rastrigin-6", [(-5.12, 5.12)] * 6, 0, _rastrigin),
        _box("Hartmann-6", [(0, 1)] * 6, -3.32237, _hartmann6),
        _box("Levy-7", [(-10, 10)] * 7, 0, _levy),
        _box("Styblinski-Tang-8", [(-5, 5)] * 8, -39.16616570377142 * 8, _styblinski_tang),
        _box("Griewank-8", [(-600, 600)] * 8, 0, _griewank),
        _box("Sphere-10", [(-5.12, 5.12)] * 10, 0, _sphere),
        {"name": "HPO-MLP", "dim": 8, "optimum": 0.25, "objective": _hpo_mlp},
    ]
}


def _make_sampler(optuna, name, seed):
    if name == "Random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "QMC":
        return optuna.samplers.QMCSampler(seed=seed)
    if name == "TPE":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "TPE-mv":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    raise ValueError(f"unknown sampler {name}")


def _qmc_unavailable_reason():
    try:
        import scipy  # noqa: F401

        return None
    except ImportError:
        return "Optuna's QMCSampler needs SciPy, which this Python lacks"


def main():
    try:
        import numpy
        import optuna
    except ImportError as e:
        print(f"cannot import optuna/numpy: {e}", file=sys.stderr)
        sys.exit(3)
    spec = json.load(sys.stdin)
    if spec.get("mode") == "eval":
        from optuna.trial import FixedTrial

        values = [PROBLEMS[pt["problem"]]["objective"](FixedTrial(pt["params"])) for pt in spec["points"]]
        json.dump({"values": values}, sys.stdout)
        return
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")  # ExperimentalWarning for multivariate, and the like
    budgets = spec["budgets"]
    n_trials = max(budgets)
    skipped = {}
    samplers = []
    for s in spec["samplers"]:
        why = _qmc_unavailable_reason() if s == "QMC" else None
        if why:
            skipped[s] = why
        else:
            samplers.append(s)
    runs = []
    started = time.time()
    for name in spec["problems"]:
        problem = PROBLEMS[name]
        for sampler_name in samplers:
            for seed in range(spec["seeds"]):
                study = optuna.create_study(sampler=_make_sampler(optuna, sampler_name, seed))
                study.optimize(problem["objective"], n_trials=n_trials)
                values = [t.value for t in study.trials]
                runs.append({"problem": name, "sampler": sampler_name, "seed": seed, "best": [min(values[:b]) for b in budgets]})
        if spec.get("progress"):
            print(f"optuna: {name} done ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)
    json.dump(
        {
            "optuna": optuna.__version__,
            "numpy": numpy.__version__,
            "python": sys.version.split()[0],
            "skipped": skipped,
            "runs": runs,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
