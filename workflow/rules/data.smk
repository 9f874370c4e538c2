# An ImageFolder dataset is decoded once (dataset.store, the default): prepare_data writes
# the index of its files, store_images the pixels and the descriptor that training jobs read
# as their cache (DATA_CACHE), so the training rules are the same for every dataset.
STORED = config["dataset"]["name"] in sources.STREAMED and config["dataset"].get(
    "store", True
)
DATA_INDEX = DATA_CACHE.removesuffix(".pt") + ".index.pt" if STORED else DATA_CACHE
# Without a store, store_images gets outputs nothing asks for, so it never runs (a rule
# defined under `if` would hide it from the tests that read every rule's block).
STORE = (
    DATA_CACHE if STORED else f"{RESULTS}/data/no-store/{config['dataset']['name']}.pt"
)

# Job arrays that could hang the run (profiles.array_stall) stop it before any job starts.
if workflow.is_main_process and (
    stall := profiles.array_stall(
        sys.argv[1:],
        os.environ,
        Path.cwd(),
        Path.home(),
        len(grid.bases(config)) + len(grid.cells(config)),
    )
):
    raise WorkflowError(f"profiles: {stall}")


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
        step_command("make-images", settings="{params.settings:q}", out="{output:q}")


rule prepare_data:
    """Read the raw IDX files once into a tensor cache every training job loads."""
    input:
        GENERATED_IMAGES,
        jobsettings=settings_input(step_settings("prepare_data")),
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
        mem_mb=res("data", "mem_mb"),
        runtime=res("data", "runtime"),
    params:
        # Functions, not strings: Snakemake formats a params string with the wildcards,
        # and a path may hold braces (dataset.root: /data/{y}).
        settings=lambda wc: settings_json(config["dataset"]),
        raw=lambda wc: RAW_FINGERPRINT,
        code=code("prepare-data"),
    shell:
        step_command("prepare-data", settings="{params.settings:q}", out="{output:q}")


rule store_images:
    """Every image decoded once, 256 x 256 uint8 in one memory-mapped file (data/store.py)."""
    input:
        index=DATA_INDEX,
    output:
        cache=STORE,
        pixels=STORE.removesuffix(".pt") + ".pixels",
    log:
        f"{LOGS}/store_images.log",
    benchmark:
        f"{BENCHMARKS}/store_images.tsv"
    conda:
        "../../envs/data.yaml"
    threads: res("data", "threads")
    resources:
        mem_mb=res("data", "mem_mb"),
        runtime=res("data", "runtime"),
    params:
        settings=lambda wc: settings_json({"resize": config["dataset"]["resize"]}),
        code=code("store-images"),
    shell:
        step_command(
            "store-images",
            index="{input.index:q}",
            threads="{threads}",
            settings="{params.settings:q}",
            out="{output.cache:q}",
        )


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
        step_command(
            "make-split",
            cache="{input.cache:q}",
            split="{wildcards.split}",
            settings="{params.settings:q}",
            out="{output:q}",
        )
