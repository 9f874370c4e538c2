rule train_base:
    """A base net: all eight layers trained on one half (the n = 0 points)."""
    input:
        unpack(
            made_from(
                f"{BASE_DIR}/model.pt",
                f"{BASE_DIR}/metrics.json",
                cache=DATA_CACHE,
                split=SPLIT_FILE,
            )
        ),
    output:
        model=f"{BASE_DIR}/model.pt",
        metrics=f"{BASE_DIR}/metrics.json",
    log:
        f"{LOGS}/train_base/{{split}}/{{half}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/train_base/{{split}}/{{half}}/seed{{seed}}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: res("train", "threads")
    resources:
        **resources("train", gpu=True),
    params:
        provenance=provenance("train-base"),
        settings=lambda wc: TRAIN_SETTINGS["base"],
        resume=f"{RESUME}/base/{{split}}/{{half}}/seed{{seed}}.pt",
    shell:
        step_command(
            "train-base",
            provenance="{params.provenance}",
            cache="{input.cache:q}",
            split_file="{input.split:q}",
            split="{wildcards.split}",
            half="{wildcards.half}",
            seed="{wildcards.seed}",
            threads="{threads}",
            settings="{params.settings:q}",
            out_model="{output.model:q}",
            out_metrics="{output.metrics:q}",
            resume_state="{params.resume:q}",
        )


rule train_cell:
    """One transfer cell: layers 1..n from a base net (or random), chopped and retrained."""
    input:
        unpack(
            made_from(
                f"{CELL_DIR}/metrics.json",
                cache=DATA_CACHE,
                split=SPLIT_FILE,
                base=cell_base,
            )
        ),
    output:
        metrics=f"{CELL_DIR}/metrics.json",
    log:
        f"{LOGS}/train_cell/{{split}}/{{target}}/{{treatment}}/n{{n}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/train_cell/{{split}}/{{target}}/{{treatment}}/n{{n}}/seed{{seed}}.tsv"
    group:
        cell_group
    conda:
        "../../envs/train.yaml"
    threads: res("train", "threads")
    resources:
        **resources("train", gpu=True),
    params:
        provenance=provenance("train-cell"),
        settings=lambda wc: TRAIN_SETTINGS[wc.treatment],
        resume=f"{RESUME}/cells/{{split}}/{{target}}/{{treatment}}/n{{n}}/seed{{seed}}.pt",
        base=lambda wc, input: f"--base {shlex.quote(input.base)}" if input.base else "",
    shell:
        step_command(
            "train-cell",
            provenance="{params.provenance}",
            cache="{input.cache:q}",
            split_file="{input.split:q}",
            split="{wildcards.split}",
            target="{wildcards.target}",
            treatment="{wildcards.treatment}",
            n="{wildcards.n}",
            seed="{wildcards.seed}",
            base=flagged("{params.base}"),
            threads="{threads}",
            settings="{params.settings:q}",
            out_metrics="{output.metrics:q}",
            resume_state="{params.resume:q}",
        )


rule train_reference:
    """The task distance's reference net: every class at once; its fc7 class means."""
    input:
        unpack(made_from(REFERENCE_MODEL, REFERENCE_FEATURES, cache=DATA_CACHE)),
    output:
        model=REFERENCE_MODEL,
        features=REFERENCE_FEATURES,
    log:
        f"{LOGS}/train_reference.log",
    benchmark:
        f"{BENCHMARKS}/train_reference.tsv"
    conda:
        "../../envs/train.yaml"
    threads: res("train", "threads")
    resources:
        **resources("train", gpu=True),
    params:
        provenance=provenance("train-reference"),
        settings=lambda wc: REFERENCE_SETTINGS,
    shell:
        step_command(
            "train-reference",
            provenance="{params.provenance}",
            cache="{input.cache:q}",
            seed=REFERENCE_SEED,
            threads="{threads}",
            settings="{params.settings:q}",
            out_model="{output.model:q}",
            out_features="{output.features:q}",
        )
