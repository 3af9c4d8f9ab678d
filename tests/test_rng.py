"""coursekit.rng: seeded draws that repeat with the seed, stay in range and leave the global RNG alone."""

import numpy as np
import pytest
import torch

from coursekit import rng


def test_the_same_seed_repeats_every_draw_and_another_seed_does_not():
    def draws(seed):
        gen = rng.generator(seed)
        return rng.uniform(gen, 0, 1, (4,)), rng.randint(gen, 0, 10**6), rng.sub_seed(gen)

    first, again, other = draws(3), draws(3), draws(4)
    assert torch.equal(first[0], again[0]) and first[1:] == again[1:]
    assert not torch.equal(first[0], other[0])
    assert first[2] != other[2]


def test_generator_draws_on_the_cpu_without_touching_the_global_rng():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    gen = rng.generator(np.int64(7))  # numpy integers are seeds too
    rng.uniform(gen, 0, 1, (100,))
    assert gen.device.type == "cpu"
    assert torch.equal(torch.rand(3), expected)


def test_a_negative_seed_is_refused_naming_the_seed():
    with pytest.raises(ValueError, match="seed: expected an integer >= 0, got -1"):
        rng.generator(-1)


@pytest.mark.parametrize("seed", [True, 1.5, "0", None])
def test_a_seed_that_is_no_integer_is_a_type_error_naming_the_seed(seed):
    with pytest.raises(TypeError, match="seed: expected an integer >= 0"):
        rng.generator(seed)


def test_uniform_is_float64_in_the_range_with_the_asked_shape():
    values = rng.uniform(rng.generator(0), -2.0, 3.0, (50, 4))
    assert values.shape == (50, 4) and values.dtype == torch.float64
    assert values.min() >= -2.0 and values.max() < 3.0
    assert values.min() < -1.5 and values.max() > 2.5  # it spans the range, not a corner of it
    assert rng.uniform(rng.generator(0), 0, 1).shape == ()


def test_uniform_float_is_the_same_draw_as_uniform():
    gen_a, gen_b = rng.generator(5), rng.generator(5)
    for lo, hi in ((0.0, 1.0), (5.0, 50.0)):
        value = rng.uniform_float(gen_a, lo, hi)
        assert isinstance(value, float)
        assert value == float(rng.uniform(gen_b, lo, hi))


def test_randint_includes_both_ends():
    gen = rng.generator(1)
    values = {rng.randint(gen, 2, 4) for _ in range(200)}
    assert values == {2, 3, 4}


def test_sub_seeds_are_valid_distinct_seeds():
    gen = rng.generator(2)
    seeds = [rng.sub_seed(gen) for _ in range(20)]
    assert len(set(seeds)) == 20
    assert all(isinstance(s, int) and 0 <= s < rng.SUB_SEED_BOUND for s in seeds)
    rng.generator(seeds[0])  # usable as a seed
