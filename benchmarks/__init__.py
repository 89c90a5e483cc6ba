"""optexec benchmarks: accuracy against independent truths and speed against baselines run
in the same process. ``python -m benchmarks [--quick]`` or ``optexec bench [--quick]``.

Each suite is a module with ``run(quick: bool, out_dir: Path) -> dict`` returning
``{"suite": name, "records": [ {...}, ... ], "plots": [paths], "notes": [...]}``; records are
flat dicts of numbers and short strings. Speed figures are reported as ratios against a
baseline measured in the same run, never as absolute promises.
"""

#: suite modules, run in this order
SUITES: list[str] = [
    "benchmarks.bench_closed_form",
    "benchmarks.bench_startup",
    "benchmarks.bench_simulate",
    "benchmarks.bench_sweep",
    "benchmarks.bench_dp",
    "benchmarks.bench_qp",
    "benchmarks.bench_hjb",
    "benchmarks.bench_accuracy",
    "benchmarks.bench_gallery",
    "benchmarks.bench_sensitivities",
    "benchmarks.bench_execution",
    "benchmarks.bench_testset",
    "benchmarks.bench_transient",
]
