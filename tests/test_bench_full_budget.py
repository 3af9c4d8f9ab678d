"""The counting core of benchmarks/bench_full_budget.py: FLOPs, saved-tensor bytes, config, time model."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_full_budget", ROOT / "benchmarks/bench_full_budget.py")
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench  # dataclasses look their module up there
spec.loader.exec_module(bench)


def conv2d_flops(k, c_in, c_out, h_out, w_out, batch=1):
    """Forward FLOPs of a convolution: 2 k^2 C_in C_out H_out W_out per image (a multiply-add is 2 FLOPs)."""
    return 2 * k * k * c_in * c_out * h_out * w_out * batch


def test_conv_flops_match_the_formula_forward_and_weight_gradient():
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    x = torch.rand(2, 3, 10, 10)
    expected = conv2d_flops(3, 3, 8, 10, 10, batch=2)
    with FlopCounterMode(display=False) as counter:
        conv(x)
    assert counter.get_total_flops() == expected
    # the input needs no gradient, so the backward is the weight gradient alone: one more forward's worth
    m = bench.measure_step(lambda: conv(x).sum().backward(), [conv])
    assert m.flops == 2 * expected


def test_saved_bytes_are_the_linear_input_and_not_its_weight():
    layer = nn.Linear(16, 8)
    x = torch.rand(4, 16)
    m = bench.measure_step(lambda: layer(x).sum().backward(), [layer])
    assert m.saved_bytes == 4 * 16 * 4  # x, float32; the weight is a parameter, counted in the state instead
    assert m.state_bytes == (16 * 8 + 8) * 4 * 2  # parameters and their gradients


def test_saved_bytes_of_a_conv_and_relu_count_each_storage_once():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
    x = torch.rand(2, 3, 10, 10)
    m = bench.measure_step(lambda: net(x).sum().backward(), [net])
    assert m.saved_bytes == (2 * 3 * 100 + 2 * 8 * 100) * 4  # the conv's input and the ReLU's output


def test_saved_bytes_are_a_peak_not_a_sum_over_graphs():
    layer = nn.Linear(16, 8)
    a, b = torch.rand(4, 16), torch.rand(4, 16)

    def two_backwards():
        layer(a).sum().backward()  # a's graph is freed here
        layer(b).sum().backward()

    def one_graph():
        (layer(a).sum() + layer(b).sum()).backward()  # both inputs saved at once

    assert bench.measure_step(two_backwards, [layer]).saved_bytes == 4 * 16 * 4
    assert bench.measure_step(one_graph, [layer]).saved_bytes == 2 * 4 * 16 * 4


def test_optimizer_state_and_work_are_counted():
    layer = nn.Linear(16, 8)
    opt = torch.optim.Adam(layer.parameters())
    x = torch.rand(4, 16)

    def step():
        opt.zero_grad()
        layer(x).sum().backward()
        opt.step()

    m = bench.measure_step(step, [layer], [opt])
    n = 16 * 8 + 8
    assert m.state_bytes >= 4 * n * 4  # parameters, gradients and Adam's two moments
    assert m.optimizer_flops == bench.ADAM_FLOPS_PER_PARAM * n


def test_scaling_a_measurement_scales_work_and_activations_only():
    m = bench.Measurement(flops=10.0, saved_bytes=4.0, state_bytes=7.0, kernels=5).scaled(3)
    assert (m.flops, m.saved_bytes, m.state_bytes, m.kernels) == (30.0, 12.0, 7.0, 5)


def test_time_model_is_compute_or_launch_bound_plus_the_loop():
    machine = bench.Machine(util={"fp32": 0.5, "mixed": 0.5}, per_kernel_s=1e-5, per_step_s=1e-3)
    big = bench.Measurement(flops=8.1e12, saved_bytes=0, state_bytes=0, kernels=10)
    tiny = bench.Measurement(flops=1.0, saved_bytes=0, state_bytes=0, kernels=100)
    assert machine.step_seconds(big, "fp32") == pytest.approx(2.0 + 1e-3)
    assert machine.step_seconds(tiny, "fp32") == pytest.approx(100 * 1e-5 + 1e-3)


def test_full_config_reads_the_profile_cell(tmp_path):
    cell = (
        "%pip install nothing\n"
        "cfg = ck.profile(\n"
        "    smoke=dict(steps=2),\n"
        "    fast=dict(steps=20),\n"
        "    full=dict(steps=2000, prior=dict(size=64, steps=8000), sizes=(1, 2)),\n"
        "    lr=1e-3,\n"
        ")\n"
    )
    notebook = {"cells": [{"cell_type": "code", "source": cell.splitlines(True)}]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook))
    cfg = bench.full_config(path)
    assert cfg.steps == 2000 and cfg.lr == 1e-3 and cfg.prior == {"size": 64, "steps": 8000}
    assert cfg.sizes == (1, 2) and cfg.profile == "full"


def test_notebook_defs_run_the_notebooks_own_definitions(tmp_path):
    cell = "def double(x):\n    return factor * x\n\nclass Unused:\n    pass\n"
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": [cell]}]}))
    ns = bench.notebook_defs(path, ("double",), {"factor": 3})
    assert ns["double"](2) == 6 and "Unused" not in ns
    with pytest.raises(ValueError, match="missing"):
        bench.notebook_defs(path, ("missing",), {})


def test_tensorflow_conv_gradient_to_the_input_counts_one_backward_conv():
    tf = pytest.importorskip("tensorflow")
    conv = tf.keras.layers.Conv2D(8, 3, padding="same", use_bias=False)
    conv.trainable = False
    image = tf.Variable(tf.random.uniform((2, 10, 10, 3)))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(conv(image))
        image.assign_sub(tape.gradient(loss, image))
        return loss

    m = bench.tf_graph_measurement(step.get_concrete_function().graph, conv.variables, [image])
    # forward conv + the input gradient (the filter gradient the tape builds is pruned: nothing uses it) +
    # the sum's additions (TensorFlow counts n - 1 for a sum of n values)
    assert m.flops == 2 * conv2d_flops(3, 3, 8, 10, 10, batch=2) + (2 * 10 * 10 * 8 - 1)
