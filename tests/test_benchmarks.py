"""The benchmark scripts README.md and docs/ quote run, and print RESULT lines."""

import argparse
import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .support import REPO, RESULT, copy_repository, run_script, venv_env


def test_base_accuracy_ceiling_prints_results(fake_fashion_mnist):
    script = REPO / "benchmarks/base_accuracy_ceiling.py"
    out = subprocess.run(
        [sys.executable, str(script), "--smoke", "--data-root", str(fake_fashion_mnist)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    results = {m[1]: float(m[2]) for m in map(RESULT.match, out.splitlines()) if m}
    assert set(results) == {
        f"base_top1_dissimilar_{half}_{data}_images" for half in "AB" for data in ("subset", "all")
    }
    assert all(0 <= v <= 1 for v in results.values())


def test_throughput_compares_both_loops_on_full_and_frozen_cells(fake_fashion_mnist):
    results = run_script(
        "throughput.py", "--smoke", "--frozen-n", "5", "--data-root", str(fake_fashion_mnist)
    )
    for kind in ("full", "frozen_n5"):
        for variant in ("_fp32", "_bf16"):
            value, unit = results[f"speedup_{kind}{variant}"]
            assert unit == "x" and float(value) > 0
        for loop in ("ours_fp32", "ours_bf16", "plain"):
            assert 0 <= float(results[f"{loop}_{kind}_top1"][0]) <= 1
    assert results["device_is_cuda"] == ("0", "bool")
    assert float(results["matmul_fp32_gflops"][0]) > 0
    assert float(results["ours_fp32_full_train_gflops"][0]) > 0


def test_job_overhead_reports_fixed_cost_and_lean_imports(fake_fashion_mnist):
    results = run_script(
        "job_overhead.py", "--smoke", "--repeats", "1", "--data-root", str(fake_fashion_mnist)
    )
    assert float(results["job_fixed_seconds"][0]) > 0
    assert float(results["job_fixed_shared_seconds"][0]) > 0
    assert results["shared_process_fixed_cost_ratio"][1] == "x"
    assert float(results["import_torch_seconds"][0]) > 0
    # A training job needs neither torchvision nor torch._dynamo: each costs a second.
    assert results["job_imports_torchvision"] == ("0", "bool")
    assert results["job_imports_dynamo"] == ("0", "bool")


def test_workflow_wall_reports_per_rule_totals(fake_fashion_mnist, tmp_path):
    config = tmp_path / "smallest.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "dataset": {"root": str(fake_fashion_mnist)},
                "subset": {"train_per_class": 10, "val_per_class": 5, "test_per_class": 5},
                "splits": {
                    "random": 0,
                    "dissimilar": {"seeds": [0], "treatments": ["random"]},
                },
                "layers": [7],
                "training": {"base": {"epochs": 1, "batch_size": 50}},  # a half's 50 images
            }
        )
    )
    results = run_script("workflow_wall.py", "--configfile", str(config))
    assert float(results["workflow_wall_seconds"][0]) > 0
    # One split (dissimilar): 2 base nets, 2 random cells at n = 7.
    assert results["rule_train_base_jobs"] == ("2", "jobs")
    assert results["rule_train_cell_jobs"] == ("2", "jobs")
    assert results["rule_prepare_data_jobs"] == ("1", "jobs")
    assert float(results["rule_train_cell_job_seconds"][0]) > 0


def test_every_benchmark_script_is_run_by_a_test():
    tests = "".join(path.read_text() for path in (REPO / "tests").glob("*.py"))
    scripts = sorted(path.name for path in (REPO / "benchmarks").glob("[!_]*.py"))
    assert scripts and all(f'"{name}"' in tests or f"/{name}" in tests for name in scripts)


def run_smoke(script: str) -> dict[str, float]:
    results = run_script(script, "--smoke", "--repeat", "1", timeout=600)
    return {name: float(value) for name, (value, _unit) in results.items()}


def test_dag_build_prints_results():
    results = run_smoke("dag_build.py")
    assert set(results) == {
        "dag_build_seconds",
        "dag_build_cpu_seconds",
        "dag_build_cells",
        "dag_build_jobs",
    }
    # 70 cells, 4 base nets, 1 split, data, the reference net, the distance and 4 tables.
    assert results["dag_build_cells"] == 70 and results["dag_build_jobs"] == 81


def test_noop_rerun_prints_results():
    results = run_smoke("noop_rerun.py")
    assert set(results) == {"noop_rerun_seconds", "noop_rerun_cpu_seconds", "noop_rerun_outputs"}
    assert results["noop_rerun_seconds"] > 0


@pytest.mark.smoke
def test_gpu_check_exits_cleanly_without_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: this checks the machine without one")
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/gpu_check.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = {m[1]: (m[2], m[3]) for m in map(RESULT.match, proc.stdout.splitlines()) if m}
    assert results == {"gpu_available": ("0", "bool")}
    assert "no GPU" in proc.stdout and "srun --gres=gpu:1" in proc.stdout


@pytest.mark.smoke
def test_gpu_check_runs_its_checks_on_the_cpu(fake_fashion_mnist):
    results = run_script("gpu_check.py", "--cpu", "--smoke", "--data-root", str(fake_fashion_mnist))
    assert results["gpu_bit_identical"] == ("1", "bool")  # the CPU is deterministic
    for name in ("default", "alexnet227"):
        for kind in ("full", "frozen_n5"):
            value, unit = results[f"{name}_{kind}_img_per_s"]
            assert unit == "img/s" and float(value) > 0


def test_recipe_sweep_counts_nets_that_did_not_train(fake_cache, split_file, tmp_path):
    """The sweep docs/training.md quotes, on the fake data: one random cell, a base and BnB;
    a sane recipe leaves every net trained, an absurd one does not."""
    results = tmp_path / "results"
    (results / "data").mkdir(parents=True)
    (results / "splits").mkdir()
    shutil.copy2(fake_cache, results / "data/fashion_mnist.pt")
    shutil.copy2(split_file, results / "splits/random0.json")
    args = ["--splits", "random0", "--halves", "A", "--random-n", "5", "--selffer-n", "1"]
    args += ["--results", str(results), "--out", str(tmp_path / "sweep.csv"), "--workers", "1"]
    recipes = ['{"epochs": 4, "batch_size": 16}', '{"epochs": 2, "lr": 30.0, "warmup": 0.0}']
    out = run_script("recipe_sweep.py", *args, "--recipes", *recipes, timeout=600)
    assert out["recipe0_nets_not_trained"] == ("0", "nets")
    assert int(out["recipe1_nets_not_trained"][0]) >= 1


def test_random_prefix_signal_measures_both_inits_and_trains_paper_init_cells(
    fake_cache, split_file, tmp_path
):
    """The measurement docs/training.md quotes for the paper-init arm, on the fake data: the
    paper's init shrinks the prefix's between-image spread by orders of magnitude where He's
    keeps it; the trained cells report top-1 and whether a layer died."""
    results = tmp_path / "results"
    (results / "data").mkdir(parents=True)
    (results / "splits").mkdir()
    shutil.copy2(fake_cache, results / "data/fashion_mnist.pt")
    shutil.copy2(split_file, results / "splits/random0.json")
    args = ["--results", str(results), "--quick", "--train-lr", "0.005", "--train-n", "5"]
    out = {k: float(v) for k, (v, _unit) in run_script("random_prefix_signal.py", *args).items()}
    names = itertools.product(("he", "caffe"), ("bf16", "fp32"), (1, 5), ("distinct", "spread"))
    assert {f"{init}_{p}_n{n}_{m}" for init, p, n, m in names} <= set(out)
    assert {"he_fp32_n5_probe", "caffe_bf16_n5_probe"} <= set(out)
    assert out["caffe_fp32_n5_spread"] < 1e-2 * out["he_fp32_n5_spread"]
    assert out["caffe_fp32_n1_spread"] > 0.1 * out["he_fp32_n1_spread"]  # one layer: no shrink
    assert 0 <= out["caffe_fp32_lr0.005_n5_top1"] <= 1
    assert out["caffe_bf16_lr0.005_n5_dead_layer"] in (0, 1)


def test_a_sweep_reads_the_run_its_config_files_make(tmp_path, monkeypatch):
    """--configfile config/study.yaml config/study-replicate.yaml: the study's recipe on the
    replicate's training subset, read from (or made in) that run's folder by the workflow
    with the same config files; a folder that is not that run's is refused by name."""
    import _snakemake_run
    import recipe_sweep

    files = [str(REPO / "config/study.yaml"), str(REPO / "config/study-replicate.yaml")]
    config = recipe_sweep.run_config(files)
    default = yaml.safe_load((REPO / "config/config.yaml").read_text())
    study = yaml.safe_load((REPO / "config/study.yaml").read_text())
    assert config["subset"]["seed"] == 1 != default["subset"]["seed"]
    assert config["training"]["base"] == default["training"]["base"] | study["training"]["base"]
    assert config["splits"]["dissimilar"]["A"] == default["splits"]["dissimilar"]["A"]

    calls = []
    monkeypatch.setattr(_snakemake_run, "snakemake", lambda *a, **k: calls.append(a))
    run = tmp_path / "clone/results/study-replicate-run"
    args = argparse.Namespace(results=str(run), splits=["random0"], configfile=files)
    assert recipe_sweep.inputs(args, config) == f"{run}/data/fashion_mnist.pt"
    target = "results/study-replicate-run/splits/random0.json"
    configs = ["--configfile", files[0], "--configfile", files[1]]
    assert calls == [(tmp_path / "clone", "--cores", "2", *configs, target)]

    args.results = str(tmp_path / "elsewhere")
    with pytest.raises(SystemExit, match="elsewhere: missing .* make them first"):
        recipe_sweep.inputs(args, config)


# Three scripts through the whole loop (slurm_overhead.py: its run on the local cluster is
# tested only here); every script also has its own test, which CI runs in a fresh clone,
# so running all of them again here cost 5 minutes of `make test`. In `make bench` order.
BENCH_RUN = ("dag_build.py", "slurm_overhead.py", "units_needed.py")


@pytest.mark.timeout(1800)
def test_make_bench_runs_the_scripts_in_quick_mode_from_a_fresh_clone(tmp_path):
    """`make bench` as a fresh clone runs it (no results/, no data cache): the loop runs
    each script at its quick sizes and skips those in BENCH_SKIP, saying so. The running
    venv stands in for the clone's (`make venv` would install one)."""
    clone = copy_repository(tmp_path / "clone")
    venv = Path(sys.executable).parent.parent
    scripts = sorted(p.name for p in (REPO / "benchmarks").glob("[!_]*.py"))
    skip = " ".join(s for s in scripts if s not in BENCH_RUN)
    make = [
        "make", "-o", "venv", "-o", "data", "bench", "BENCH_ARGS=--quick", f"BENCH_SKIP={skip}",
        f"VENV={venv}", f"PYTHON={sys.executable}",
    ]  # fmt: skip
    done = subprocess.run(
        make, cwd=clone, env=venv_env(), capture_output=True, text=True, timeout=1700
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    ran = re.findall(r"^== benchmarks/(\S+)$", done.stdout, re.MULTILINE)
    skipped = re.findall(r"^== benchmarks/(\S+): skipped", done.stdout, re.MULTILINE)
    assert ran == list(BENCH_RUN) and sorted(ran + skipped) == scripts
    assert "RESULT " in done.stdout
