rule make_smoke_images:
    """A small ImageFolder of generated JPEGs (dataset.generate): data the smoke run brings along."""
    input:
        unpack(made_from(GENERATED_ROOT)),
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
        **resources("data"),
    params:
        provenance=provenance("make-images"),
        settings=settings_json(config["dataset"].get("generate") or {}),
    shell:
        step_command(
            "make-images",
            provenance="{params.provenance}",
            settings="{params.settings:q}",
            out="{output:q}",
        )


rule prepare_data:
    """Read the raw IDX files once into a tensor cache every training job loads."""
    input:
        unpack(made_from(DATA_INDEX, images=GENERATED_IMAGES)),
    output:
        DATA_INDEX,
    log:
        f"{LOGS}/prepare_data.log",
    benchmark:
        f"{BENCHMARKS}/prepare_data.tsv"
    conda:
        "../../envs/data.yaml"
    threads: res("data", "threads")
    resources:
        **resources("data"),
    params:
        provenance=provenance("prepare-data"),
        # Functions, not strings: Snakemake formats a params string with the wildcards,
        # and a path may hold braces (dataset.root: /data/{y}).
        settings=lambda wc: settings_json(config["dataset"]),
    shell:
        step_command(
            "prepare-data",
            provenance="{params.provenance}",
            settings="{params.settings:q}",
            out="{output:q}",
        )


rule store_images:
    """Every image decoded once, 256 x 256 uint8 in one memory-mapped file (data/store.py)."""
    input:
        unpack(made_from(STORE, index=DATA_INDEX)),
    output:
        cache=STORE,
        pixels=STORE_PIXELS,
    log:
        f"{LOGS}/store_images.log",
    benchmark:
        f"{BENCHMARKS}/store_images.tsv"
    conda:
        "../../envs/data.yaml"
    threads: res("data", "threads")
    resources:
        **resources("data"),
    params:
        provenance=provenance("store-images"),
        settings=lambda wc: settings_json(grid.store_settings(config)),
    shell:
        step_command(
            "store-images",
            provenance="{params.provenance}",
            index="{input.index:q}",
            threads="{threads}",
            settings="{params.settings:q}",
            out="{output.cache:q}",
        )


rule make_split:
    """Classes into halves A/B and the train/val/test images of each half."""
    input:
        unpack(made_from(SPLIT_FILE, cache=DATA_CACHE)),
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
        **resources("data"),
    params:
        provenance=provenance("make-split"),
        settings=lambda wc: settings_json(grid.split_settings(config, wc.split)),
    shell:
        step_command(
            "make-split",
            provenance="{params.provenance}",
            cache="{input.cache:q}",
            split="{wildcards.split}",
            settings="{params.settings:q}",
            out="{output:q}",
        )
