"""The 8-weight-layer AlexNet-shaped net and the surgery of the transfer experiments.

The net is a sequence of eight *stages*, one per weight layer (conv1..conv5, fc6..fc8).
A stage is: weight layer -> deterministic tail (max-pool, ReLU) -> dropout (fc6, fc7).
Keeping dropout separate lets training cache the deterministic output of frozen
stages and apply the stochastic part afterwards, exactly as the un-cached net would.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError
from ..layers import FIRST_FC, LAYER_NAMES, NUM_LAYERS

__all__ = ["FIRST_FC", "LAYER_NAMES", "NUM_LAYERS"]  # the layer count's one home is layers.py
DROPOUT_P = 0.5


@dataclass(frozen=True)
class ConvSpec:
    kernel: int
    stride: int
    padding: int
    pool: tuple[int, int] | None  # (kernel, stride) of the max-pool after the ReLU


# Layouts of the same 8-layer shape: small28 for 28-px images; alexnet32 for 32-px
# colour images (CIFAR); alexnet227 the paper's net, Caffe's AlexNet (bvlc_reference_caffenet
# layer sizes: 96-256-384-384-256 conv, 4096-4096 fc, 227-px crops, conv5 output 6x6)
# without its grouped convolutions and local response normalisation; alexnet224
# torchvision's AlexNet variant for 224-px crops.
LAYOUTS = {
    "small28": {
        "convs": (
            ConvSpec(5, 1, 2, (2, 2)),
            ConvSpec(5, 1, 2, (2, 2)),
            ConvSpec(3, 1, 1, None),
            ConvSpec(3, 1, 1, None),
            ConvSpec(3, 1, 1, (2, 2)),
        ),
        "image_side": 28,
        "widths": (16, 32, 48, 48, 32, 128, 128),
    },
    "alexnet32": {
        "convs": (
            ConvSpec(5, 1, 2, (3, 2)),
            ConvSpec(5, 1, 2, (3, 2)),
            ConvSpec(3, 1, 1, None),
            ConvSpec(3, 1, 1, None),
            ConvSpec(3, 1, 1, (3, 2)),
        ),
        "image_side": 32,
        "widths": (64, 192, 384, 256, 256, 1024, 1024),
    },
    "alexnet227": {
        "convs": (
            ConvSpec(11, 4, 0, (3, 2)),
            ConvSpec(5, 1, 2, (3, 2)),
            ConvSpec(3, 1, 1, None),
            ConvSpec(3, 1, 1, None),
            ConvSpec(3, 1, 1, (3, 2)),
        ),
        "image_side": 227,
        "widths": (96, 256, 384, 384, 256, 4096, 4096),
    },
    "alexnet224": {
        "convs": (
            ConvSpec(11, 4, 2, (3, 2)),
            ConvSpec(5, 1, 2, (3, 2)),
            ConvSpec(3, 1, 1, None),
            ConvSpec(3, 1, 1, None),
            ConvSpec(3, 1, 1, (3, 2)),
        ),
        "image_side": 224,
        "widths": (64, 192, 384, 256, 256, 4096, 4096),
    },
}


class MaxPool(nn.MaxPool2d):
    """nn.MaxPool2d, with a faster forward where no gradient is wanted.

    On the CPU max_pool2d always computes int64 argmax indices for its backward, which
    doubles its cost. A frozen prefix or an evaluation needs only the values: for
    non-overlapping windows on channels_last maps, the elementwise maximum of strided
    views gives the same values (max is exact in any dtype) at about half the cost.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size
        fast = (
            not torch.is_grad_enabled()
            and isinstance(k, int)
            and self.stride == k
            and self.padding == 0
            and self.dilation == 1
            and not self.ceil_mode
            and x.dim() == 4
            and x.is_contiguous(memory_format=torch.channels_last)
        )
        return window_max(x, k) if fast else super().forward(x)


def window_max(x: torch.Tensor, k: int) -> torch.Tensor:
    """Max over k x k windows with stride k (a trailing partial window dropped)."""
    n, c, h, w = x.shape
    y = x.permute(0, 2, 3, 1)[:, : h // k * k, : w // k * k]  # NHWC, a view
    y = y.unflatten(2, (w // k, k)).amax(3) if k > 2 else _pair_max(y.unflatten(2, (w // k, k)), 3)
    y = y.unflatten(1, (h // k, k)).amax(2) if k > 2 else _pair_max(y.unflatten(1, (h // k, k)), 2)
    return y.permute(0, 3, 1, 2)  # NCHW shape, channels_last strides


def _pair_max(y: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.maximum(y.select(dim, 0), y.select(dim, 1))


class Dropout(nn.Dropout):
    """nn.Dropout's distribution (each unit kept with probability 1 - p, survivors scaled
    by 1 / (1 - p)) with the keep-mask drawn by torch.rand: on the CPU nn.Dropout's
    bernoulli_ costs 2.5x as much and was the largest op of a frozen cell's step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape, device=x.device) >= self.p
        return x * keep.to(x.dtype).mul_(1 / (1 - self.p))


class Stage(nn.Module):
    def __init__(self, weight: nn.Module, tail: nn.Module, dropout: bool):
        super().__init__()
        self.weight = weight
        self.tail = tail
        self.dropout = Dropout(DROPOUT_P) if dropout else nn.Identity()

    def deterministic(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.weight, nn.Linear) and x.dim() > 2:
            x = x.flatten(1)
        return self.tail(self.weight(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.deterministic(x))


class TransferNet(nn.Module):
    def __init__(self, layout: str, num_classes: int, in_channels: int = 1, widths=None):
        super().__init__()
        if layout not in LAYOUTS:
            raise ConfigError(f"model.layout: unknown layout {layout!r}; known: {sorted(LAYOUTS)}")
        spec = LAYOUTS[layout]
        widths = tuple(widths or spec["widths"])
        if len(widths) != NUM_LAYERS - 1:
            raise ConfigError(
                f"model.widths: give {NUM_LAYERS - 1} widths (conv1..conv5, fc6, fc7), "
                f"got {len(widths)}"
            )
        stages = []
        channels, side = in_channels, spec["image_side"]
        for conv, width in zip(spec["convs"], widths[:5], strict=True):
            # Max-pool before the ReLU: the two commute (ReLU is monotone), values and
            # gradients alike, and the ReLU then runs on a quarter of the activations.
            tail = []
            side = (side + 2 * conv.padding - conv.kernel) // conv.stride + 1
            if conv.pool:
                tail.append(MaxPool(*conv.pool))
                side = (side - conv.pool[0]) // conv.pool[1] + 1
            tail.append(nn.ReLU(inplace=True))
            layer = nn.Conv2d(channels, width, conv.kernel, conv.stride, conv.padding)
            stages.append(Stage(layer, nn.Sequential(*tail), dropout=False))
            channels = width
        features = channels * side * side
        for width in widths[5:]:
            stages.append(Stage(nn.Linear(features, width), nn.ReLU(inplace=True), dropout=True))
            features = width
        stages.append(Stage(nn.Linear(features, num_classes), nn.Identity(), dropout=False))
        self.stages = nn.ModuleList(stages)
        self.layout, self.widths, self.num_classes = layout, widths, num_classes
        init_weights(self)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Run stages start..8; `start` > 0 takes the output of stage `start` as input."""
        for stage in self.stages[start:]:
            x = stage(x)
        return x

    def weight_layers(self) -> list[nn.Module]:
        return [stage.weight for stage in self.stages]


OUTPUT_INIT_STD = 0.01


def init_weights(net: TransferNet) -> None:
    """One init for every net, base, re-initialised and random alike.

    Hidden layers: He (Kaiming) normal with fan-in, which keeps the ReLU activations'
    scale constant with depth, so frozen *random* layers pass signal instead of dying
    at some n and not at others (an artefact of the init scale, not science).
    Output layer (fc8, never copied or frozen): N(0, 0.01^2) as in Caffe's AlexNet, so
    training starts from near-uniform predictions instead of spending its first steps
    undoing large random logits. Biases start at zero.
    """
    *hidden, output = net.weight_layers()
    for layer in hidden:
        nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
    nn.init.normal_(output.weight, std=OUTPUT_INIT_STD)
    for layer in net.weight_layers():
        nn.init.zeros_(layer.bias)


# The authors' Caffe init (yosinski/convnet_transfer, results/netbase/imagenet_train.prototxt,
# bvlc_reference_caffenet's): per layer conv1..fc8, the weights' Gaussian std and the
# biases' constant value.
CAFFE_INIT: tuple[tuple[float, float], ...] = (
    (0.01, 0.0),  # conv1
    (0.01, 1.0),  # conv2
    (0.01, 0.0),  # conv3
    (0.01, 1.0),  # conv4
    (0.01, 1.0),  # conv5
    (0.005, 1.0),  # fc6
    (0.005, 1.0),  # fc7
    (0.01, 0.0),  # fc8
)


def init_caffe(net: TransferNet, n: int) -> None:
    """Re-initialise the first n weight layers as the paper's nets started: Caffe's fixed
    Gaussians (std 0.01, 0.005 for fc6/fc7) and constant biases (1 in conv2, conv4, conv5,
    fc6, fc7). At these scales a stack of frozen random layers passes almost nothing on,
    which is part of why the paper's random nets fall to chance (He-initialised ones do not)."""
    with torch.no_grad():
        for layer, (std, bias) in zip(net.weight_layers()[:n], CAFFE_INIT, strict=False):
            nn.init.normal_(layer.weight, std=std)
            nn.init.constant_(layer.bias, bias)


def layer_keys(net: TransferNet, n: int) -> list[str]:
    """State-dict keys of the first n weight layers."""
    return [
        key for i in range(n) for key in (f"stages.{i}.weight.weight", f"stages.{i}.weight.bias")
    ]


def check_compatible(net: TransferNet, state: dict, n: int, source: str) -> None:
    """A checkpoint from another architecture fails here, naming the layer and shapes."""
    own = net.state_dict()
    for key in layer_keys(net, n):
        if key not in state:
            raise ConfigError(f"{source}: checkpoint has no {key}; was it made by this pipeline?")
        if state[key].shape != own[key].shape:
            raise ConfigError(
                f"{source}: {key} has shape {tuple(state[key].shape)}, this net expects "
                f"{tuple(own[key].shape)}; the base net was trained with another "
                "model.layout/model.widths — delete it so it is retrained"
            )


def transplant(net: TransferNet, state: dict, n: int) -> None:
    """Copy the first n weight layers of `state` into `net` (the rest stay as initialised)."""
    with torch.no_grad():
        own = net.state_dict()
        for key in layer_keys(net, n):
            own[key].copy_(state[key])


def freeze(net: TransferNet, n: int) -> None:
    """Frozen layers take no gradient: learning rate 0 and no weight decay, in effect."""
    for stage in net.stages[:n]:
        stage.weight.requires_grad_(False)


def deterministic_depth(n_frozen: int) -> int:
    """How many leading stages can be cached: frozen, and no dropout before their end.

    Dropout after fc6 sits *inside* a frozen fc6+fc7 block, so at n=7 the cache holds
    fc6's pre-dropout output and fc7 runs (without gradient) every step.
    """
    return min(n_frozen, FIRST_FC + 1)
