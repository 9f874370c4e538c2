"""How a training job spends the CPUs it was given (the rule's `threads`): torch threads
for the steps, and loader workers that decode images.

| data | device | torch threads | loader workers |
|---|---|---|---|
| in-memory tensors (Fashion-MNIST, CIFAR-100) | any | all | none |
| decode-once store | CPU | all | none (one prefetch thread gathers rows) |
| decode-once store | GPU | all (they gather the next batch's rows in parallel) | none |
| JPEGs decoded per epoch (`dataset.store: false`) | CPU | all | all (they take turns) |
| JPEGs decoded per epoch | GPU | 1 (the step runs on the GPU) | all but one |

On a GPU with JPEGs decoded each epoch, the decoding is the bottleneck: every CPU but the
one that drives the GPU decodes. Torch threads beside as many busy workers would only
contend for the same cores.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CpuPlan:
    torch_threads: int
    loader_workers: int


def plan(cpus: int, device_type: str, decodes_per_epoch: bool) -> CpuPlan:
    cpus = max(1, cpus)
    if not decodes_per_epoch:
        return CpuPlan(cpus, 0)
    if device_type == "cpu":
        return CpuPlan(cpus, cpus)
    return CpuPlan(1, max(1, cpus - 1))
