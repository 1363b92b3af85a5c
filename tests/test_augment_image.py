"""Batched image augmentation vs exact tensor ops, closed forms and statistics."""
import math

import pytest
import torch

from nnopt import ConfigError
from nnopt.augment import image as im
from nnopt.registry import AUGMENTATIONS


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def full(n, value):
    return torch.full((n,), float(value))


@pytest.mark.parametrize("shape", [(3, 2, 6, 6), (3, 5, 7)])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotation_by_multiples_of_90_is_rot90(shape, k):
    x = torch.rand(*shape, generator=gen())
    x4 = x.unsqueeze(1) if x.dim() == 3 else x
    if x4.shape[-1] != x4.shape[-2] and k % 2:
        pytest.skip("a quarter turn of a non-square image changes its shape")
    out = im.warp(x4, im.rotation_matrix(full(len(x), 90 * k)))
    torch.testing.assert_close(out, torch.rot90(x4, k, dims=(-2, -1)), atol=1e-5, rtol=0)


def test_compose_on_3d_batches_matches_rot90():
    x = torch.rand(4, 8, 8, generator=gen(1))
    out = im.Compose([_Fixed(im.rotation_matrix(full(4, -90)))])(x, gen())
    torch.testing.assert_close(out, torch.rot90(x, -1, dims=(-2, -1)), atol=1e-5, rtol=0)


class _Fixed:
    """A geometric op with given matrices, to drive Compose deterministically."""

    def __init__(self, m):
        self.m = m

    def matrix(self, n, size, generator, device):
        return self.m


@pytest.mark.parametrize("dx,dy", [(2, 0), (0, -3), (1, 2), (-2, -1)])
def test_whole_pixel_translation_is_roll_with_zero_fill(dx, dy):
    x = torch.rand(2, 3, 7, 9, generator=gen())
    out = im.warp(x, im.shift_matrix(full(2, dx), full(2, dy)))
    ref = torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    if dx > 0:
        ref[..., :dx] = 0
    elif dx < 0:
        ref[..., dx:] = 0
    if dy > 0:
        ref[..., :dy, :] = 0
    elif dy < 0:
        ref[..., dy:, :] = 0
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)


def test_batched_warp_equals_one_sample_at_a_time():
    x = torch.rand(3, 1, 10, 10, generator=gen())
    m = im.shift_matrix(torch.tensor([1.0, 0.0, -3.0]), torch.tensor([0.0, 2.0, 1.0])) @ \
        im.rotation_matrix(torch.tensor([0.0, 17.0, -40.0]))
    out = im.warp(x, m)
    for i in range(3):
        torch.testing.assert_close(out[i], im.warp(x[i:i + 1], m[i:i + 1])[0])


def test_flip_ops_equal_torch_flip():
    x = torch.rand(5, 2, 4, 6, generator=gen())
    torch.testing.assert_close(im.HFlip(1.0)(x, gen()), torch.flip(x, dims=(-1,)), atol=0, rtol=0)
    torch.testing.assert_close(im.VFlip(1.0)(x, gen()), torch.flip(x, dims=(-2,)), atol=0, rtol=0)
    assert torch.equal(im.HFlip(0.0)(x, gen()), x)


def test_flip_mask_is_per_sample_with_rate_p():
    x = torch.arange(6.0).view(1, 1, 1, 6).repeat(4000, 1, 1, 1)
    out = im.HFlip(0.3)(x, gen())
    flipped = (out[:, 0, 0, 0] == 5).float()
    assert set(out[:, 0, 0, 0].tolist()) == {0.0, 5.0}
    # binomial: mean 0.3, sd sqrt(0.21/4000) ≈ 0.0072; 5 sd bound
    assert abs(flipped.mean().item() - 0.3) < 0.037


def test_identity_parameters_return_the_input():
    x = torch.rand(6, 3, 9, 11, generator=gen())
    aug = im.Compose([im.Rotation(0.0), im.Scaling(1.0, 1.0), im.Translation(0.0), im.GaussianNoise(0.0)])
    torch.testing.assert_close(aug(x, gen()), x, atol=1e-6, rtol=0)
    assert im.pipeline() is None


def test_ops_with_p_zero_are_identity_even_with_large_parameters():
    x = torch.rand(6, 1, 8, 8, generator=gen())
    aug = im.Compose([im.Rotation(45, p=0.0), im.Scaling(0.5, 2.0, p=0.0), im.Translation(0.3, p=0.0),
                      im.GaussianNoise(1.0, p=0.0), im.HFlip(0.0)])
    torch.testing.assert_close(aug(x, gen()), x, atol=1e-6, rtol=0)
    everything = im.pipeline(rotation=45, hflip=1.0, noise=1.0, p=0.0)
    assert everything is None


def test_global_p_keeps_the_others_exactly():
    x = torch.rand(2000, 1, 4, 4, generator=gen())
    out = im.Compose([im.GaussianNoise(0.5)], p=0.25)(x, gen())
    changed = (out != x).flatten(1).any(1).float()
    assert abs(changed.mean().item() - 0.25) < 5 * math.sqrt(0.25 * 0.75 / 2000)


def test_rotation_moves_a_point_by_the_closed_form():
    # a bright 3×3 blob at (col, row) offset (6, 0) from the centre of a 31×31 image; rotating by
    # θ counter-clockwise on screen moves its centroid to (6 cos θ, −6 sin θ) (rows point down)
    size, theta = 31, 30.0
    x = torch.zeros(1, 1, size, size)
    c = size // 2
    x[..., c - 1:c + 2, c + 5:c + 8] = 1.0
    out = im.warp(x, im.rotation_matrix(full(1, theta)))[0, 0]
    rows, cols = torch.meshgrid(torch.arange(size) - c, torch.arange(size) - c, indexing="ij")
    mass = out.sum()
    cx, cy = (out * cols).sum() / mass, (out * rows).sum() / mass
    t = math.radians(theta)
    assert abs(cx - 6 * math.cos(t)) < 0.1 and abs(cy + 6 * math.sin(t)) < 0.1
    assert abs(mass - 9.0) < 0.2  # bilinear resampling roughly preserves mass


def test_scaling_by_two_zooms_about_the_centre():
    # zoom ×2: output pixel u reads input at u/2; for a linear ramp in columns f(col) = col - c
    # sampled at interior pixels, the output ramp has slope 1/2
    size = 17
    c = size // 2
    ramp = (torch.arange(size, dtype=torch.float32) - c).repeat(size, 1).view(1, 1, size, size)
    out = im.warp(ramp, im.scale_matrix(full(1, 2.0)))
    interior = out[0, 0, c, c - 6:c + 7]
    torch.testing.assert_close(interior, torch.arange(-6, 7, dtype=torch.float32) / 2, atol=1e-5, rtol=0)


def test_noise_statistics():
    x = torch.zeros(64, 1, 28, 28)
    sigma = 0.2
    out = im.GaussianNoise(sigma)(x, gen())
    n = out.numel()
    # mean ~ N(0, σ²/n), sample variance ~ σ²(1 ± sqrt(2/n)); 5 sd bounds
    assert abs(out.mean().item()) < 5 * sigma / math.sqrt(n)
    assert abs(out.var().item() / sigma ** 2 - 1) < 5 * math.sqrt(2 / n)


def test_deterministic_under_a_seed_and_different_across_seeds():
    x = torch.rand(16, 1, 12, 12, generator=gen())
    aug = im.pipeline(rotation=20, hflip=0.5, vflip=0.5, scale=(0.8, 1.2), translate=0.1, noise=0.05)
    a, b, c = aug(x, gen(7)), aug(x, gen(7)), aug(x, gen(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_per_sample_parameters_differ_across_the_batch():
    # the same image repeated: each copy must come out different
    x = torch.rand(1, 1, 12, 12, generator=gen()).repeat(8, 1, 1, 1)
    out = im.pipeline(rotation=30, translate=0.1)(x, gen())
    diffs = [(out[i] - out[j]).abs().max().item() for i in range(8) for j in range(i + 1, 8)]
    assert min(diffs) > 1e-3


def test_3d_and_4d_batches_agree():
    x = torch.rand(5, 10, 10, generator=gen())
    aug = im.pipeline(rotation=25, hflip=0.5, translate=0.2, noise=0.1)
    torch.testing.assert_close(aug(x, gen(3)), aug(x.unsqueeze(1), gen(3)).squeeze(1))


def test_fused_geometry_equals_composed_matrices():
    # rotation then translation in one resampling = warp with the product matrix T·R
    x = torch.rand(4, 1, 9, 9, generator=gen())
    r, t = im.rotation_matrix(torch.tensor([10.0, -20.0, 35.0, 0.0])), im.shift_matrix(full(4, 1.5), full(4, -0.5))
    out = im.Compose([_Fixed(r), _Fixed(t)])(x)
    torch.testing.assert_close(out, im.warp(x, t @ r), atol=1e-6, rtol=0)


def test_non_image_batches_raise_a_clear_error():
    aug = im.pipeline(rotation=10)
    with pytest.raises(ValueError, match="data.layout"):
        aug(torch.rand(4, 64), gen())
    with pytest.raises(ValueError, match="float"):
        aug(torch.ones(4, 8, 8, dtype=torch.int64), gen())


def test_registry_entries_and_validation():
    assert AUGMENTATIONS.create("none") is None
    aug = AUGMENTATIONS.create("image", field="augment", rotation=15.0, hflip=0.5, scale=[0.9, 1.1],
                               translate=0.1, noise=0.05)
    assert isinstance(aug, im.Compose) and len(aug.ops) == 5
    assert AUGMENTATIONS.create("image", field="augment") is None
    noise = AUGMENTATIONS.create("noise", field="augment", sigma=0.1)
    assert noise(torch.zeros(3, 64), gen()).shape == (3, 64)
    with pytest.raises(ConfigError, match=r"augment.hflip = 1.5 — must be in \[0, 1\]"):
        AUGMENTATIONS.create("image", field="augment", hflip=1.5)
    with pytest.raises(ConfigError, match=r"augment.scale\[0\]"):
        AUGMENTATIONS.create("image", field="augment", scale=[0.0, 1.0])
    with pytest.raises(ConfigError, match="low end"):
        AUGMENTATIONS.create("image", field="augment", scale=[1.2, 0.8])
    with pytest.raises(ConfigError, match="augment.padding"):
        AUGMENTATIONS.create("image", field="augment", padding="wrap")


def test_trainer_applies_the_recipe_augmentation(tmp_path):
    import nnopt
    from nnopt.train import Trainer, build

    train = {"epochs": 1, "threads": 1, "device": "cpu", "checkpoint": False}
    recipe = nnopt.Recipe({"augment": {"name": "image", "rotation": 10.0, "hflip": 0.5}, "train": train})
    setup = build(recipe)
    x = setup.data.train.x[:8]
    assert setup.augment(x, gen()).shape == x.shape
    augmented = Trainer(setup, tmp_path / "aug", quiet=True).fit()
    plain = Trainer(build(nnopt.Recipe({"train": train})), tmp_path / "plain", quiet=True).fit()
    assert augmented["final_val_loss"] != plain["final_val_loss"]  # same seed, different batches
    with pytest.raises(ConfigError, match="augment.rotation"):
        nnopt.Recipe({"augment": {"name": "image", "rotation": -1.0}})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_exact_ops():
    x = torch.rand(4, 1, 8, 8, device="cuda")
    g = torch.Generator(device="cuda").manual_seed(0)
    torch.testing.assert_close(im.HFlip(1.0)(x, g), x.flip(-1))
    out = im.warp(x, im.rotation_matrix(torch.full((4,), 90.0, device="cuda")))
    torch.testing.assert_close(out, torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5, rtol=0)
    aug = im.pipeline(rotation=20, hflip=0.5, noise=0.1)
    a = aug(x, torch.Generator(device="cuda").manual_seed(1))
    b = aug(x, torch.Generator(device="cuda").manual_seed(1))
    assert torch.equal(a, b)
