"""Model surgery: exactly n layers copied, frozen ones untouched, random ones from no base."""

import pytest
import torch

from transferability.errors import ConfigError
from transferability.training import models
from transferability.training.solver import train

from .support import RECIPE, net, tiny_data


def layer_params(net: models.TransferNet, i: int) -> list[torch.Tensor]:
    layer = net.weight_layers()[i]
    return [layer.weight.detach().clone(), layer.bias.detach().clone()]


def test_the_net_has_eight_weight_layers_and_the_expected_output():
    m = net(0)
    assert len(m.weight_layers()) == models.NUM_LAYERS == 8
    assert m(torch.zeros(3, 1, 28, 28)).shape == (3, 5)


def test_alexnet224_layout_is_torchvision_shaped():
    m = models.TransferNet("alexnet224", 500, in_channels=3)
    shapes = [tuple(layer.weight.shape) for layer in m.weight_layers()]
    assert shapes[0] == (64, 3, 11, 11) and shapes[5] == (4096, 256 * 6 * 6)
    assert shapes[7] == (500, 4096)


@pytest.mark.parametrize("n", range(1, 8))
def test_transplant_copies_exactly_n_layers(n):
    source, target = net(1), net(2)
    before = [layer_params(target, i) for i in range(8)]
    models.transplant(target, source.state_dict(), n)
    for i in range(8):
        expected = layer_params(source, i) if i < n else before[i]
        for got, want in zip(layer_params(target, i), expected, strict=True):
            assert torch.equal(got, want)


@pytest.mark.parametrize("n", [1, 5, 6, 7])
def test_frozen_layers_are_bit_identical_after_training(n):
    m = net(3)
    frozen_before = [layer_params(m, i) for i in range(n)]
    train(m, tiny_data(), RECIPE, n_frozen=n, seed=0, log=lambda *_: None)
    for i in range(n):
        for got, want in zip(layer_params(m, i), frozen_before[i], strict=True):
            assert torch.equal(got, want)


@pytest.mark.parametrize("n", [1, 5, 7])
def test_layers_above_n_are_trained(n):
    m = net(3)
    before = [layer_params(m, i) for i in range(8)]
    train(m, tiny_data(), RECIPE, n_frozen=n, seed=0, log=lambda *_: None)
    for i in range(n, 8):
        assert not torch.equal(layer_params(m, i)[0], before[i][0]), f"layer {i + 1}"


def test_fine_tuned_cells_change_every_layer():
    m = net(3)
    before = [layer_params(m, i) for i in range(8)]
    train(m, tiny_data(), RECIPE, n_frozen=0, seed=0, log=lambda *_: None)
    for i in range(8):
        assert not torch.equal(layer_params(m, i)[0], before[i][0]), f"layer {i + 1}"


def test_random_layers_come_from_no_base_net():
    base_a, base_b, random_net = net(10), net(11), net(12)
    for i in range(8):
        w = layer_params(random_net, i)[0]
        assert not torch.equal(w, layer_params(base_a, i)[0])
        assert not torch.equal(w, layer_params(base_b, i)[0])


@pytest.mark.parametrize("n", range(1, 8))
def test_cached_prefix_then_top_equals_the_whole_net_in_eval_mode(n):
    from transferability.training.evaluation import run_stages

    m = net(4).eval()
    x = torch.randn(8, 1, 28, 28)
    depth = models.deterministic_depth(n)
    cached = run_stages(m, x, 0, depth)
    torch.testing.assert_close(m(cached, start=depth), m(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", range(1, 8))
def test_random_frozen_layers_are_not_dead(n):
    """He init keeps ReLU outputs alive at every depth (no erratic chance-level cells)."""
    from transferability.training.evaluation import dead_fraction, run_stages

    m = net(5, widths=(16, 32, 48, 48, 32, 128, 128)).eval()
    x = torch.randn(256, 1, 28, 28)
    features = run_stages(m, x, 0, models.deterministic_depth(n))
    assert dead_fraction(features) < 0.2
    assert float(features.std()) > 1e-2


def test_a_checkpoint_from_another_architecture_is_refused_with_the_layer_named():
    small, other = net(0), net(0, widths=(6, 8, 8, 8, 8, 16, 16))
    with pytest.raises(ConfigError, match=r"stages\.0\.weight\.weight.*model\.widths"):
        models.check_compatible(small, other.state_dict(), 3, "base.pt")


def test_an_unknown_layout_names_the_key():
    with pytest.raises(ConfigError, match="model.layout"):
        models.TransferNet("vgg", 5)


@pytest.mark.parametrize("shape", [(3, 16, 28, 28), (2, 32, 7, 7), (2, 5, 9, 10), (1, 3, 2, 2)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_values_only_max_pool_equals_max_pool2d(shape, dtype):
    pool = models.MaxPool(2, 2)
    torch.manual_seed(0)
    x = torch.randn(shape).to(dtype).contiguous(memory_format=torch.channels_last)
    x[0, 0, :2, :2] = 1.0  # a tie inside one window
    with torch.no_grad():
        fast = pool(x)
    assert torch.equal(fast, torch.nn.functional.max_pool2d(x, 2, 2))
    assert fast.is_contiguous(memory_format=torch.channels_last)


def test_the_max_pool_keeps_max_pool2d_where_a_gradient_is_wanted():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 6, 6).contiguous(memory_format=torch.channels_last)
    ours, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    models.MaxPool(2, 2)(ours).square().sum().backward()
    torch.nn.MaxPool2d(2, 2)(theirs).square().sum().backward()
    assert torch.equal(ours.grad, theirs.grad)


def test_dropout_keeps_each_unit_with_probability_one_minus_p_and_scales_it():
    drop = models.Dropout(0.5)
    x = torch.ones(200, 500, requires_grad=True)
    torch.manual_seed(0)
    out = drop(x)
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert abs(float((out > 0).float().mean()) - 0.5) < 0.01  # 100,000 draws: sd 0.0016
    out.sum().backward()
    assert torch.equal(x.grad, out.detach())  # gradient: the same mask, the same scale
    torch.manual_seed(0)
    assert torch.equal(drop(x), out)  # seeded: the same mask again
    assert drop.eval()(x) is x
