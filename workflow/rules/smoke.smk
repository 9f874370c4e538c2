# The smoke run's report (config/smoke.yaml, smoke_report: true): where every training job
# ran and whether each job given a GPU trained on it. Printed when the run ends, also when
# it fails (then from whatever metrics exist, naming the jobs that did not finish).

from transferability_runtime import smoke_report


onsuccess:
    if config["smoke_report"] and Path(SMOKE_REPORT).exists():
        print(Path(SMOKE_REPORT).read_text())
        print(f"(written to {SMOKE_REPORT})")


onerror:
    print_job_errors()
    if config["smoke_report"]:
        expected = training_records()
        text, _ = smoke_report.report(
            [p for p in expected if Path(p).exists()],
            RESULTS,
            expected,
            DRIVER_CHECK,
        )
        print(text)
        print(f"(the run failed: this report is not written to {SMOKE_REPORT})")


rule smoke_report:
    """Where each training job ran (node, device, torch, CUDA, bf16, images/s); fails if a job given a GPU trained on the CPU."""
    input:
        unpack(made_from(SMOKE_REPORT, metrics=training_records(), driver=DRIVER_CHECK)),
    output:
        SMOKE_REPORT,
    log:
        f"{LOGS}/smoke_report.log",
    benchmark:
        f"{BENCHMARKS}/smoke_report.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: res("aggregate", "threads")
    resources:
        **resources("aggregate"),
    params:
        provenance=provenance("smoke-report"),
    shell:
        step_command(
            "smoke-report",
            provenance="{params.provenance}",
            metrics="{input.metrics:q}",
            driver="{input.driver:q}",
            out="{output:q}",
        )


rule check_driver:
    """The NVIDIA driver of a GPU node against the training env (a job like a training job's: one GPU); says which env to use."""
    input:
        unpack(made_from(DRIVER_CHECK)),
    output:
        DRIVER_CHECK,
    log:
        f"{LOGS}/check_driver.log",
    benchmark:
        f"{BENCHMARKS}/check_driver.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        **resources("aggregate", gpu=True),
    params:
        provenance=provenance("driver-check"),
    shell:
        step_command("driver-check", provenance="{params.provenance}", out="{output:q}")
