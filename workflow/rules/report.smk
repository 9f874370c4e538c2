rule tables:
    """The claims and summary tables as HTML for `snakemake --report`, and which nets each figure and claim used."""
    input:
        unpack(made_from(*REPORT_TABLES, table=SUMMARY)),
    output:
        claims=report(
            f"{RESULTS}/report/claims.html",
            caption="../report/claims_table.rst",
            category="Claims",
        ),
        summary=report(
            f"{RESULTS}/report/summary.html",
            caption="../report/summary.rst",
            category="Tables",
        ),
        nets=report(NETS_USED, caption="../report/nets_used.rst", category="Tables"),
    log:
        f"{LOGS}/tables.log",
    benchmark:
        f"{BENCHMARKS}/tables.tsv"
    conda:
        "../../envs/analysis.yaml"
    threads: res("aggregate", "threads")
    resources:
        **resources("aggregate"),
    params:
        provenance=provenance("tables"),
    shell:
        step_command(
            "tables",
            provenance="{params.provenance}",
            table="{input.table:q}",
            claims_html="{output.claims:q}",
            summary_html="{output.summary:q}",
            nets="{output.nets:q}",
        )
