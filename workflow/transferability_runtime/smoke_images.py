"""The smoke run's data (config/smoke.yaml, rule make_smoke_images): a small ImageFolder of
JPEGs (`<root>/{train,val}/<class>/*.JPEG`), each class a colour and a stripe orientation,
at ILSVRC-like sizes, so the run reads them through the same streamed ImageFolder path and
AlexNet-227 layout as config/imagenet.yaml and needs no dataset on the cluster.
"""

from __future__ import annotations

from pathlib import Path


def write_images(settings: dict, root) -> None:
    """`classes` classes of `train_per_class` + `val_per_class` JPEGs, sides around `side`."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(settings.get("seed", 0))
    classes, side = settings["classes"], settings["side"]
    for c in range(classes):
        angle = np.pi * c / classes
        colour = np.array([np.cos(2 * np.pi * (c / classes + k / 3)) for k in range(3)])
        for sub, count in (
            ("train", settings["train_per_class"]),
            ("val", settings["val_per_class"]),
        ):
            folder = Path(root) / sub / f"class{c:02d}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                h, w = (side + rng.integers(-side // 8, side // 8 + 1, size=2)).tolist()
                y, x = np.mgrid[0:h, 0:w]
                phase = rng.uniform(0, 2 * np.pi)
                stripes = np.sin(
                    2 * np.pi * 8 * (x * np.cos(angle) + y * np.sin(angle)) / side + phase
                )
                pixels = 128 + 50 * stripes[..., None] * colour + 40 * colour
                pixels += rng.normal(0, 20, size=(h, w, 3))
                image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
                image.save(folder / f"class{c:02d}_{sub}_{i}.JPEG", quality=90)
