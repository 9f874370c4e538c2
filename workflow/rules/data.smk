rule make_smoke_images:
    """A small ImageFolder of generated JPEGs (dataset.generate): data the smoke run brings along."""
    input:
        jobsettings=settings_input(step_settings("make_smoke_images")),
    output:
        directory(GENERATED_ROOT),
    log:
        f"{LOGS}/make_smoke_images.log",
    benchmark:
        f"{BENCHMARKS}/make_smoke_images.tsv"
    conda:
        "../../envs/data.yaml"
    threads: res("data", "threads")
    resources:
        mem_mb=res("data", "mem_mb"),
        runtime=res("data", "runtime"),
    params:
        settings=settings_json(config["dataset"].get("generate") or {}),
        code=code("make-images"),
    shell:
        "python -m transferability make-images --settings {params.settings:q} --out {output:q} > {log:q} 2>&1"


rule prepare_data:
    """Read the raw IDX files once into a tensor cache every training job loads."""
    input:
        GENERATED_IMAGES,
        jobsettings=settings_input(step_settings("prepare_data")),
    output:
        DATA_CACHE,
    log:
        f"{LOGS}/prepare_data.log",
    benchmark:
        f"{BENCHMARKS}/prepare_data.tsv"
    conda:
        "../../envs/data.yaml"
    threads: res("data", "threads")
    resources:
        mem_mb=res("data", "mem_mb"),
        runtime=res("data", "runtime"),
    params:
        # Functions, not strings: Snakemake formats a params string with the wildcards,
        # and a path may hold braces (dataset.root: /data/{y}).
        settings=lambda wc: settings_json(config["dataset"]),
        raw=lambda wc: RAW_FINGERPRINT,
        code=code("prepare-data"),
    shell:
        "python -m transferability prepare-data --settings {params.settings:q} --out {output:q} > {log:q} 2>&1"


rule make_split:
    """Classes into halves A/B and the train/val/test images of each half."""
    input:
        cache=DATA_CACHE,
        jobsettings=settings_input(SPLIT_SETTINGS, split_content),
    output:
        SPLIT_FILE,
    log:
        f"{LOGS}/make_split/{{split}}.log",
    benchmark:
        f"{BENCHMARKS}/make_split/{{split}}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: res("data", "threads")
    resources:
        mem_mb=res("data", "mem_mb"),
        runtime=res("data", "runtime"),
    params:
        settings=lambda wc: settings_json(grid.split_settings(config, wc.split)),
        code=code("make-split"),
    shell:
        "python -m transferability make-split --cache {input.cache:q} --split {wildcards.split}"
        " --settings {params.settings:q} --out {output:q} > {log:q} 2>&1"
