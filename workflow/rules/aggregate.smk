rule task_distance:
    """Each split's distance between its halves, in the reference net's features."""
    input:
        unpack(made_from(DISTANCES, features=REFERENCE_FEATURES, splits=split_files())),
    output:
        DISTANCES,
    log:
        f"{LOGS}/task_distance.log",
    benchmark:
        f"{BENCHMARKS}/task_distance.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: res("aggregate", "threads")
    resources:
        **resources("aggregate"),
    params:
        provenance=provenance("task-distance"),
    shell:
        step_command(
            "task-distance",
            provenance="{params.provenance}",
            features="{input.features:q}",
            splits="{input.splits:q}",
            out="{output:q}",
        )


rule aggregate:
    """Every net's metrics into one tidy table (parquet, and CSV beside it)."""
    input:
        unpack(
            made_from(
                SUMMARY,
                SUMMARY_CSV,
                HISTORY,
                metrics=base_metrics() + cell_metrics(),
                distances=DISTANCES,
            )
        ),
    output:
        table=SUMMARY,
        csv=SUMMARY_CSV,
        history=HISTORY,
    log:
        f"{LOGS}/aggregate.log",
    benchmark:
        f"{BENCHMARKS}/aggregate.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: res("aggregate", "threads")
    resources:
        **resources("aggregate"),
    params:
        provenance=provenance("aggregate"),
    shell:
        step_command(
            "aggregate",
            provenance="{params.provenance}",
            metrics="{input.metrics:q}",
            out_table="{output.table:q}",
            out_csv="{output.csv:q}",
            out_history="{output.history:q}",
            distances="{input.distances:q}",
        )


rule figures:
    """The paper's Figures 2 and 3 from the table, and every net's training curves."""
    input:
        unpack(made_from(*FIGURES, CURVES, table=SUMMARY, history=HISTORY)),
    output:
        figure2=report(FIGURES[0], caption="../report/figure2.rst", category="Figures"),
        figure3=report(FIGURES[1], caption="../report/figure3.rst", category="Figures"),
        curves=report(
            CURVES, caption="../report/training_curves.rst", category="Figures"
        ),
    log:
        f"{LOGS}/figures.log",
    benchmark:
        f"{BENCHMARKS}/figures.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: res("aggregate", "threads")
    resources:
        **resources("aggregate"),
    params:
        provenance=provenance("figures"),
        settings=lambda wc: settings_json(config["plots"]),
    shell:
        step_command(
            "figures",
            provenance="{params.provenance}",
            table="{input.table:q}",
            settings="{params.settings:q}",
            figure2="{output.figure2:q}",
            figure3="{output.figure3:q}",
            history="{input.history:q}",
            curves="{output.curves:q}",
        )


rule claims:
    """A verdict on each of the paper's claims, with effect sizes and intervals."""
    input:
        unpack(made_from(CLAIMS, table=SUMMARY)),
    output:
        report(CLAIMS, caption="../report/claims.rst", category="Claims"),
    log:
        f"{LOGS}/claims.log",
    benchmark:
        f"{BENCHMARKS}/claims.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: res("aggregate", "threads")
    resources:
        **resources("aggregate"),
    params:
        provenance=provenance("claims"),
    shell:
        step_command(
            "claims",
            provenance="{params.provenance}",
            table="{input.table:q}",
            out="{output:q}",
        )
