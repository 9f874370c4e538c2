"""Does a frozen random prefix still carry the label? He's init against the paper's (Caffe's).

A random-weight cell (`random`, `random_paper`) trains the layers above n frozen random
layers. When it ends at chance, either nothing above could do better (the prefix maps the
images to features that say nothing about their class) or the optimiser broke (a dead
trainable layer, say). This measures the first, without training anything: each cell's
starting net is built as `train-cell` builds it (its derived seed, He's init or
`init_caffe`), its frozen prefix run once over one half's training and validation images
as training caches it (eval mode, under bf16 autocast when the recipe's precision is bf16),
and in fp32 too. Per init and n:

- `distinct`: how many distinct feature vectors the training images give (1: every image
  gets the same vector, and no layer above can beat chance);
- `spread`: the features' between-image standard deviation over their root mean square
  (0: a constant);
- `probe`: validation top-1 of a linear classifier (multinomial logistic regression on the
  standardised features, L-BFGS), the best a linear head does with them; chance is 1/k.

`--train-lr LR...` also trains the paper-init cells at n = `--train-n` with the config's
recipe at each lr, in each precision (`train-cell` itself, one thread): whether the layer
above the prefix dies, and whether a cell whose layers stay alive does better than chance.

    .venv/bin/python benchmarks/random_prefix_signal.py [--split random0 --half A --seed 0]
    .venv/bin/python benchmarks/random_prefix_signal.py --configfile config/study.yaml \
        --train-lr 0.01 0.005 0.0025                                # + 18 cells, ~2 min
    .venv/bin/python benchmarks/random_prefix_signal.py --quick    # n = 1, 5; few images

Prints `RESULT <init>_<precision>_n<n>_<measure> <value> <unit>` lines (and
`RESULT caffe_<precision>_lr<lr>_n<n>_{top1,dead_layer}` for trained cells). Data: the run
folder of `--configfile`'s config (made by the workflow where missing, as the sweeps do).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from recipe_sweep import inputs  # noqa: E402

from transferability_runtime.reference import run_config  # noqa: E402

INITS = {"he": "random", "caffe": "random_paper"}


def prefix_features(config, data, treatment: str, split, half, n, seed, bf16: bool):
    """The n-layer random prefix's output for each part's images, as training caches it."""
    from transferability import grid
    from transferability.training import jobs, models
    from transferability.training.evaluation import run_stages
    from transferability.training.solver import derived_seed
    from transferability.treatments import CAFFE
    from transferability.treatments import get as get_treatment

    torch.manual_seed(derived_seed(split, half, treatment, n, seed))
    classes = int(data["train"][1].max()) + 1
    net = jobs._net(grid.train_settings(config, treatment), classes)
    if get_treatment(treatment).init == CAFFE:
        models.init_caffe(net, n)
    net = net.to(memory_format=torch.channels_last).eval()
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
        return {part: run_stages(net, x, 0, n).float().flatten(1) for part, (x, _) in data.items()}


def probe(train: torch.Tensor, y_train, val: torch.Tensor, y_val, classes: int) -> float:
    """Validation top-1 of a linear softmax classifier on standardised features."""
    mean, std = train.mean(0), train.std(0)
    keep = std > 0  # a unit constant over the training images says nothing
    if not keep.any():
        return float((y_val == torch.mode(y_train).values).float().mean())
    z = (train[:, keep] - mean[keep]) / std[keep]
    zv = (val[:, keep] - mean[keep]) / std[keep]
    w = torch.zeros(z.shape[1], classes, requires_grad=True)
    b = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(z @ w + b, y_train) + 1e-4 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(((zv @ w + b).argmax(1) == y_val).float().mean())


def measure(feats: dict, data: dict) -> dict[str, float]:
    x, y = feats["train"], data["train"][1]
    spread = x.std(0).pow(2).mean().sqrt() / x.pow(2).mean().sqrt().clamp_min(1e-30)
    return {
        "distinct": float(torch.unique(x, dim=0).shape[0]),
        "spread": float(spread),
        "probe": probe(x, y, feats["val"], data["val"][1], int(y.max()) + 1),
    }


def train_cells(args, config: dict, cache: str, precisions) -> None:
    """Paper-init cells trained as the workflow trains them, at each lr and precision."""
    import copy
    import tempfile

    from transferability import grid
    from transferability.analysis.results_table import judged
    from transferability.training import jobs
    from transferability.training.status import MAX_DEAD

    split_file = Path(args.results) / "splits" / f"{args.split}.json"
    for precision in precisions:
        for lr in args.train_lr:
            for n in args.train_n:
                run = copy.deepcopy(config)
                run["training"]["base"] |= {"precision": precision, "lr": lr}
                with tempfile.TemporaryDirectory() as tmp:
                    record = jobs.train_cell(
                        cache=cache, split_file=split_file, split=args.split, target=args.half,
                        treatment=INITS["caffe"], n=n, seed=args.seed, base=None,
                        settings=grid.train_settings(run, INITS["caffe"]), threads=1,
                        out_metrics=Path(tmp) / "metrics.json",
                    )  # fmt: skip
                record = judged(record)  # the status the aggregate step gives it
                last = record["history"][-1]
                dead = any(v >= MAX_DEAD for k, v in last.items() if k.startswith("dead_"))
                name = f"caffe_{precision}_lr{lr:g}_n{n}"
                print(f"{name}: {record['status']} {record['status_reason']}")
                print(f"RESULT {name}_top1 {record['top1']:.4f} fraction")
                print(f"RESULT {name}_dead_layer {int(dead)} bool", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configfile", nargs="+", default=[], help="merged over config/config.yaml")
    p.add_argument("--results", help="the run folder with data/ and splits/ (default: config's)")
    p.add_argument("--split", default="random0")
    p.add_argument("--half", default="A")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, nargs="+", default=list(range(1, 8)))
    p.add_argument("--train-lr", type=float, nargs="*", default=[], help="train at these lr")
    p.add_argument("--train-n", type=int, nargs="+", default=[4, 5, 6])
    p.add_argument("--quick", "--smoke", action="store_true", help="n = 1, 5 on 200 images")
    args = p.parse_args()
    if args.quick:
        args.n = [1, 5]
    args.splits = [args.split]
    config = run_config(args.configfile)
    cache = inputs(args, config)

    from transferability.data.halves import load_half
    from transferability.data.splits import read_split

    split_path = Path(args.results) / "splits" / f"{args.split}.json"
    record = read_split(split_path)
    data = load_half(cache, record["halves"][args.half], record=record, split_path=split_path,
                     split=args.split)  # fmt: skip
    data = {part: data[part] for part in ("train", "val")}
    if args.quick:
        data = {part: (x[:200], y[:200]) for part, (x, y) in data.items()}
    torch.set_num_threads(1)
    bf16 = config["training"]["base"]["precision"] == "bf16"
    precisions = {"bf16": True, "fp32": False} if bf16 else {"fp32": False}
    print(f"{args.split}/{args.half} seed {args.seed}: {len(data['train'][1])} training images")
    for init, treatment in INITS.items():
        for precision, autocast in precisions.items():
            for n in args.n:
                feats = prefix_features(
                    config, data, treatment, args.split, args.half, n, args.seed, autocast
                )
                for name, value in measure(feats, data).items():
                    unit = {"distinct": "vectors", "spread": "ratio", "probe": "fraction"}[name]
                    print(f"RESULT {init}_{precision}_n{n}_{name} {value:.4g} {unit}", flush=True)
    if args.train_lr:
        train_cells(args, config, cache, precisions)


if __name__ == "__main__":
    main()
