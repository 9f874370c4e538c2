"""The key of every job a config's run makes, before anything runs, and which existing
outputs are not what those keys say (so the run remakes them).

A job's key is a digest of its step, its resolved settings, the fingerprint of the code it
runs and the keys of its inputs (for prepare_data, the content digest of the dataset's
sources): the same key means made the same way from the same things. Keys chain, so a
changed split seed changes the key of the split, of every net trained on it and of every
table made from them, and nothing else. Each job records its key beside its outputs
(transferability/records.py); `stale` compares the records with the plan.

Standard library only (and the torch-free experiment modules): the Snakefile uses it.
"""

from __future__ import annotations

import functools
from pathlib import Path

from transferability import grid, records, treatments
from transferability.data import sources


def output_paths(config: dict, results: str) -> dict:
    """Where a run of `config` writes each output (patterns with the rules' wildcards), and
    how its data is kept: one definition for the rules (common.smk), the status of the
    committed runs and the benchmarks."""
    dataset = config["dataset"]
    cache = f"{results}/data/{dataset['name']}.pt"
    # An ImageFolder is decoded once (dataset.store, the default): prepare_data writes its
    # index, store_images the pixels and the descriptor the training jobs read as their cache.
    stored = dataset["name"] in sources.STREAMED and dataset.get("store", True)
    store = cache if stored else f"{results}/data/no-store/{dataset['name']}.pt"
    return {
        "cache": cache,
        "index": cache.removesuffix(".pt") + ".index.pt" if stored else cache,
        "stored": stored,
        "store": store,
        # Its data: raw rows, or JPEGs (dataset.store_format: jpeg).
        "pixels": store.removesuffix(".pt")
        + (".jpegs" if dataset.get("store_format") == "jpeg" else ".pixels"),
        # config/smoke.yaml: the workflow writes its own ImageFolder (dataset.generate).
        "generated": f"{results}/images" if dataset.get("generate") else None,
        "split": f"{results}/splits/{{split}}.json",
        "base": f"{results}/base/{{split}}/{{half}}/seed{{seed}}",
        "cell": f"{results}/cells/{{split}}/{{target}}/{{treatment}}/n{{n}}/seed{{seed}}",
        # The task distance (issue 32): a net on every class, then each split's distance.
        "reference": [
            f"{results}/task_distance/reference_net.pt",
            f"{results}/task_distance/reference_net.json",
        ],
        "distance": f"{results}/task_distance.csv",
        "aggregate": [
            f"{results}/summary.parquet",
            f"{results}/summary.csv",
            f"{results}/history.parquet",
        ],
        "figures": [
            f"{results}/figures/figure2.png",
            f"{results}/figures/figure3.png",
            f"{results}/figures/training_curves.png",
        ],
        "claims": [f"{results}/claims.md"],
        "smoke": f"{results}/smoke_report.md",
        # The smoke run's check of a GPU node's driver against the training env.
        "driver": f"{results}/driver_check.json",
        "tables": [
            f"{results}/report/claims.html",
            f"{results}/report/summary.html",
            f"{results}/nets_used.csv",
        ],
    }


class Plan:
    """Keys of the jobs of one config; `paths` names each rule's outputs (output_paths)."""

    def __init__(self, config: dict, paths: dict, fingerprint, source_digest: str):
        self.config, self.paths, self.code = config, paths, fingerprint
        self.source = source_digest

    @staticmethod
    def key(step: str, settings, code: str, inputs: list) -> str:
        return records.digest({"step": step, "settings": settings, "code": code, "in": inputs})

    @functools.cache
    def images(self) -> str:
        return self.key(
            "make-images", self.config["dataset"].get("generate"), self.code("make-images"), []
        )

    @functools.cache
    def index(self) -> str:
        inputs = [self.source, self.images() if self.paths["generated"] else None]
        return self.key("prepare-data", self.config["dataset"], self.code("prepare-data"), inputs)

    @functools.cache
    def cache(self) -> str:
        """The key of the file the training jobs read: the index, or the store made of it."""
        if not self.paths["stored"]:
            return self.index()
        settings = grid.store_settings(self.config)
        return self.key("store-images", settings, self.code("store-images"), [self.index()])

    @functools.cache
    def split(self, split: str) -> str:
        settings = grid.split_settings(self.config, split)
        return self.key("make-split", settings, self.code("make-split"), [self.cache()])

    def training_code(self, step: str):
        """The code a training step runs on this config's data: the step's, and the reader
        of its kind of cache where it has one (imported by name: data/readers.py)."""
        kind = "stored" if self.paths["stored"] else None
        if kind is None and self.config["dataset"]["name"] in sources.STREAMED:
            kind = "imagefolder"
        return self.code(step) if kind is None else [self.code(step), self.code(f"read-{kind}")]

    def _net(self, step, split, target, treatment, n, seed, base) -> str:
        net = {"split": split, "target": target, "treatment": treatment, "n": n, "seed": seed}
        # How the store is read (settings["feed"]: threads, prefetch, RAM) changes no
        # number (tests/test_pipeline_feed.py): not part of what made the net.
        train = grid.train_settings(self.config, treatment)
        settings = {
            "net": net,
            "train": {k: v for k, v in train.items() if k != "feed"},
            "treatment": treatments.training_entry(treatment),
        }
        inputs = [self.cache(), self.split(split), base]
        return self.key(step, settings, self.training_code(step), inputs)

    @functools.cache
    def base(self, split: str, half: str, seed: int) -> str:
        return self._net("train-base", split, half, "base", 0, seed, None)

    @functools.cache
    def cell(self, split: str, target: str, treatment: str, n: int, seed: int) -> str:
        source = grid.source_half(treatment, target)
        base = None if source == "none" else self.base(split, source, seed)
        return self._net("train-cell", split, target, treatment, n, seed, base)

    def nets(self) -> dict[str, str]:
        """Every net's metrics file and its key (base nets' checkpoints too)."""
        out = {}
        for b in grid.bases(self.config):
            folder = self.paths["base"].format(**vars(b))
            key = self.base(b.split, b.half, b.seed)
            out |= {f"{folder}/model.pt": key, f"{folder}/metrics.json": key}
        for c in grid.cells(self.config):
            key = self.cell(c.split, c.target, c.treatment, c.n, c.seed)
            out[self.paths["cell"].format(**vars(c)) + "/metrics.json"] = key
        return out

    def _metrics(self) -> list[str]:
        return sorted(k for p, k in self.nets().items() if p.endswith("metrics.json"))

    @functools.cache
    def reference(self) -> str:
        settings = grid.reference_settings(self.config)
        settings = {k: v for k, v in settings.items() if k != "feed"}  # as for the nets
        settings["seed"] = grid.reference_seed(self.config)
        code = self.training_code("train-reference")
        return self.key("train-reference", settings, code, [self.cache()])

    @functools.cache
    def distance(self) -> str:
        splits = [self.split(s) for s in grid.split_names(self.config)]
        return self.key(
            "task-distance", None, self.code("task-distance"), [self.reference(), *splits]
        )

    @functools.cache
    def aggregate(self) -> str:
        inputs = [*self._metrics(), self.distance()]
        return self.key("aggregate", registry("training"), self.code("aggregate"), inputs)

    def after_table(self, step: str, settings=None) -> str:
        return self.key(step, settings, self.code(step), [self.aggregate()])

    @functools.cache
    def expected(self) -> dict[str, str]:
        """Every output of the run and the key its record must hold."""
        p = self.paths
        out = {p["index"]: self.index()}
        if p["generated"]:
            out[p["generated"]] = self.images()
        if p["stored"]:
            out |= {p["cache"]: self.cache(), p["pixels"]: self.cache()}
        for split in grid.split_names(self.config):
            out[p["split"].format(split=split)] = self.split(split)
        out |= self.nets()
        out |= dict.fromkeys(p["reference"], self.reference())
        out[p["distance"]] = self.distance()
        out |= dict.fromkeys(p["aggregate"], self.aggregate())
        figures = {"plots": self.config["plots"], "treatments": registry("drawing")}
        out |= dict.fromkeys(p["figures"], self.after_table("figures", figures))
        out |= dict.fromkeys(p["claims"], self.after_table("claims", registry("naming")))
        out |= dict.fromkeys(p["tables"], self.after_table("tables", registry("naming")))
        driver = self.key("driver-check", None, self.code("driver-check"), [])
        out[p["driver"]] = driver
        read = [*self._metrics(), self.reference(), driver]  # what the smoke report reads
        out[p["smoke"]] = self.key("smoke-report", None, self.code("smoke-report"), read)
        return out


def registry(use: str) -> dict:
    """The treatment registry as a step uses it (its code fingerprint leaves the registry
    out, provenance.py): "training" (what each treatment copies, trains and initialises),
    "naming" (and its label), "drawing" (and its style)."""
    out = {}
    for t in treatments.REGISTRY:
        entry = treatments.training_entry(t.name)
        if use in ("naming", "drawing"):
            entry["label"] = t.label
        if use == "drawing":
            entry["style"] = repr(t.style)
        out[t.name] = entry
    return out


# Files up to this size are digested at the start of each run (a metrics file, a split, a
# table, a figure); larger ones (checkpoints, the data cache, a store) by the job that reads
# them, which checks them anyway.
CHECK_AT_START = 1 << 20


def stale(expected: dict[str, str]) -> dict[str, str]:
    """Existing outputs that are not what the plan makes, and why: no record, another key,
    content changed since it was recorded (small files), or made from an input whose
    content is no longer the one it was made from."""
    found: dict[str, str] = {}
    recorded = {path: records.read(path) for path in expected if Path(path).exists()}
    for path, record in recorded.items():
        small = Path(path).is_file() and Path(path).stat().st_size <= CHECK_AT_START
        why = records.problem(path, expected[path], check_content=small, record=record)
        if why is None:
            # A record written since it was read (a job of another run finishing): read it.
            record = record or records.read(path) or {}
            for source, made_of in (record.get("inputs") or {}).items():
                now = recorded.get(source)
                if now is not None and now.get("sha256") != made_of.get("sha256"):
                    why = f"it was made from another {source} than the one there now"
                    break
        if why is not None:
            found[path] = why
    # Inputs are `ancient` to Snakemake (file times decide nothing), so what is made from a
    # remade output is named here: every existing output with a stale or missing input. A
    # job that reruns remakes all its outputs (a base net's checkpoint with its metrics).
    remade = {path for path in expected if not Path(path).exists()}
    rerun = {expected[path] for path in set(found) | remade}
    remade |= {path for path, key in expected.items() if key in rerun}
    while True:
        more = {
            path: f"it was made from {source}, which is remade"
            for path, record in recorded.items()
            if path not in found
            for source in (record or {}).get("inputs") or {}
            if source in remade
        }
        if not more:
            return found
        found |= more
        remade |= set(more)
