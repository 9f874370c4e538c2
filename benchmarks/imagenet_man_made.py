"""Man-made vs natural ImageNet classes by the WordNet 3.0 rule of config/imagenet.yaml:
a class is man-made iff artifact.n.01 (offset 00021939) is among its hypernyms.

The paper reports 551 man-made and 449 natural classes among ILSVRC-2012's 1000. This
counts the classes it is given: the class folders of an ILSVRC-2012 ImageFolder
(--root, as the workflow does), a file of wnids (--wnids, one per line), or, with
neither, the 10 ILSVRC-2012 classes of Imagenette whose wnids ship with torchvision
(the only ILSVRC wnids on this machine offline). Prints `RESULT` lines.

    .venv/bin/python benchmarks/imagenet_man_made.py [--root /data/ILSVRC2012 | --wnids FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from transferability.data import imagefolder, wordnet  # noqa: E402


def offline_wnids() -> list[str]:
    from torchvision.datasets import Imagenette

    return sorted(Imagenette._WNID_TO_CLASS)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = p.add_mutually_exclusive_group()
    source.add_argument("--root", help="ImageFolder root with train/<wnid>/ folders")
    source.add_argument("--wnids", help="a file with one wnid per line")
    p.add_argument("--wordnet-root", default=wordnet.DEFAULT_ROOT)
    p.add_argument("--quick", action="store_true", help="the same (it takes a second)")
    args = p.parse_args(argv)
    if args.root:
        wnids, label = imagefolder.class_folders(args.root), "root"
    elif args.wnids:
        wnids = [w.strip() for w in Path(args.wnids).read_text().split() if w.strip()]
        label = "list"
    else:
        wnids, label = offline_wnids(), "imagenette"
    man_made, natural = wordnet.split_by_hypernym(wnids, wordnet.ARTIFACT, args.wordnet_root)
    for wnid in wnids:
        kind = "man-made" if wnid in man_made else "natural"
        print(f"{wnid} {wordnet.lemma(wnid, args.wordnet_root)}: {kind}")
    print(f"RESULT imagenet_{label}_classes {len(wnids)} classes")
    print(f"RESULT imagenet_{label}_man_made {len(man_made)} classes")
    print(f"RESULT imagenet_{label}_natural {len(natural)} classes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
