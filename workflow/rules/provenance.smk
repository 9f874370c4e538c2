rule mark_stale:
    """Marks a job whose existing output is not what the config and code make now (common.smk:
    STALE); the job takes the marker as an input, so it reruns. The marker says why."""
    output:
        f"{STALE_DIR}/{{key}}.{{i}}",
    log:
        f"{LOGS}/mark_stale/{{key}}.{{i}}.log",
    benchmark:
        f"{BENCHMARKS}/mark_stale/{{key}}.{{i}}.tsv"
    localrule: True
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        **resources("aggregate"),
    params:
        why=lambda wc: "; ".join(
            f"{path}: {why}" for path, why in STALE.items() if EXPECTED[path] == wc.key
        ),
        # Older markers of the same job: a marker once used is never an input again.
        older=lambda wc: f"{STALE_DIR}/{wc.key}.",
    shell:
        "rm -f {params.older:q}*; echo {params.why:q} | tee {output:q} > {log:q}"
