"""A T4 budget for the ``full`` profile, predicted from one measured training step per loop (no GPU needed).

Run: ``python benchmarks/bench_full_budget.py [--notebook NN | --notebook lectures/NN] [--threads T]``.

The ``full`` profile is what a student runs on a Colab T4; the README promises <= 20 minutes a notebook. For
every training loop of every notebook (12 lectures, 11 solutions) this script builds the loop's models with
the notebook's own coursekit constructors and the ``full=dict(...)`` of the notebook's ``ck.profile`` cell
(parsed with ``ast``, so the prediction follows the notebook), runs *one* step of the step function the
notebook uses (coursekit's ``gan_step`` / ``vae_step``, or the notebook's own step
function executed from its cell) on the CPU, and measures:

- **FLOPs** with ``torch.utils.flop_counter.FlopCounterMode`` (forward + backward; it counts matrix products
  and convolutions), plus the optimizer's elementwise work counted as ``ADAM_FLOPS_PER_PARAM`` per updated
  parameter (the counter does not see elementwise ops);
- **memory**: parameters + buffers + gradients + optimizer state (unique storages after the step) plus the
  peak of the tensors autograd saves for backward, measured with ``torch.autograd.graph.saved_tensors_hooks``
  (unique storages, parameters excluded, a storage counted while any saved reference to it is alive). The
  CUDA context (~0.3-0.5 GB) and temporary workspaces are not included (that is why the bar is 14 of 16 GB);
  counted in float32 (mixed precision would save less);
- **kernels**: aten operations that launch work (views excluded; optimizer work replaced by a fused
  multi-tensor Adam's ``FOREACH_KERNELS_PER_OPTIMIZER_STEP``), for the per-kernel overhead below.

Module 11 (TensorFlow) is counted from the graph of its compiled step (``tf.function``): TensorFlow's own
per-op FLOP statistics (those ``tf.profiler``'s ``float_operation`` sums: 2 k^2 C_in C_out H W a conv and
the same for each of its gradients) over the ops the step's outputs and updates depend on. The tape builds
input and filter gradients for every conv; the filter gradients of the frozen VGG19 feed nothing and are
pruned, so VGG19's backward counts 1x its forward and a trained network's 2x. Saved tensors are the
forward tensors the gradient ops consume.

Heavy steps (3-D GANs, the GANs with VGG losses, the inpainting GAN, batched latent restoration) are
measured at a smaller batch and scaled linearly (FLOPs and saved activations; parameters, state and
kernel counts do not scale); the table marks them ``*``. Loops run several times (per beta, restart set,
task, lambda) multiply ``steps``.

**Time model** (per step): ``max(FLOPs / (peak x utilisation), kernels x seconds_per_kernel) + loop``: the
GPU is busy either computing or waiting for the Python/dispatch side to launch the next kernel (steps are
synchronised by ``.item()`` in every loop), plus the loop's own cost per step (``ck.train.fit`` over a
shuffled DataLoader with a step that does nothing, measured here). T4 peaks: 8.1 TFLOP/s FP32, 65 TFLOP/s
FP16 tensor cores, 16 GB. The summary also gives FP32 at half the assumed utilisation: the sensitivity to
the one number taken from elsewhere.

**Utilisation** from a published T4 measurement: NVIDIA's DeepLearningExamples ResNet50 v1.5 for PyTorch
(``PyTorch/Classification/ConvNets/resnet50v1.5/README.md``, "Inference performance: NVIDIA T4", pytorch-21.03
container) reports 428 img/s in FP32 and 1165 img/s with mixed precision at batch 64, 224x224. With
ResNet-50's forward FLOPs measured here by the same counter (8.18 GFLOP/image), that is 3.50 TFLOP/s = 43% of
the FP32 peak and 9.53 TFLOP/s = 15% of the FP16 tensor-core peak. The same README's V100 numbers turn this
into training: FP32 training 367 img/s x 3 (forward + backward) vs inference 1200 img/s at batch 64 is 0.92
of the inference rate; mixed precision 1200 x 3 vs 2984 is above 1, taken as 1. So utilisation FP32 =
0.43 x 0.92 = 0.40, mixed = 0.15. ResNet-50 at 224x224 is a large convnet; the course's 32-64 px models at
batch 16-64 fill a T4 less well, so the compute term is optimistic for them (the kernel floor catches the
smallest).

**Overhead**: ``seconds_per_kernel`` = the CPU time per aten op of eager PyTorch measured here on a tiny MLP
step (where the arithmetic is negligible) + ``LAUNCH_S`` = 4 us assumed for the host side of a CUDA kernel
launch (an assumption, not measured). A Colab VM's 2 vCPUs are assumed to be of this machine's class.

Evaluation work that is large (Frechet distances over thousands of images) has its own forward-only rows.
Not counted: data preparation on the CPU (rendering procedural faces, degradations), small evaluations,
widgets, checkpoint I/O, TensorFlow's tracing; they add to a notebook's wall time.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]

T4_PEAK = {"fp32": 8.1e12, "mixed": 65e12}  # FLOP/s: FP32 CUDA cores, FP16 tensor cores
T4_MEMORY_GB = 16
BUDGET_MINUTES, BUDGET_GB = 20.0, 14.0

# NVIDIA DeepLearningExamples, PyTorch ResNet50 v1.5 README (pytorch-21.03): T4 inference at batch 64
# and the V100 training / inference throughputs that convert it to training (see the module docstring).
T4_RESNET50_IMAGES_PER_S = {"fp32": 428.0, "mixed": 1165.0}
TRAINING_OVER_INFERENCE = {"fp32": 367.0 * 3 / 1200.0, "mixed": min(1.0, 1200.0 * 3 / 2984.0)}
LAUNCH_S = 4e-6  # host-side cost of one cudaLaunchKernel
ADAM_FLOPS_PER_PARAM = 12  # two moment updates, bias corrections, sqrt, divide, step: ~12 per parameter
FOREACH_KERNELS_PER_OPTIMIZER_STEP = 12  # a fused multi-tensor Adam launches ~a dozen kernels per step
NOT_LAUNCHING = {"detach", "alias", "lift_fresh", "empty", "empty_like", "zeros_like", "_to_copy"}


# ------------------------------------------------------------------------------------- the counting core
class SavedTensorMeter:
    """Peak bytes of the tensors autograd saves for backward, as unique storages, parameters excluded.

    Use as a context manager around forward + backward: every saved tensor is packed into a holder whose
    lifetime is the graph's; a storage counts from its first saved reference until its last one is freed
    (after backward, or when the graph is dropped), so ``peak`` is the largest live total during the step.
    """

    def __init__(self, exclude: set[int] = frozenset()):
        self.exclude = set(exclude)
        self.live: dict[int, list[int]] = {}  # storage pointer -> [bytes, references]
        self.current = 0
        self.peak = 0
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)

    def _pack(self, tensor: torch.Tensor):
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if key in self.exclude or storage.nbytes() == 0:
            return tensor
        entry = self.live.setdefault(key, [storage.nbytes(), 0])
        if entry[1] == 0:
            self.current += entry[0]
            self.peak = max(self.peak, self.current)
        entry[1] += 1
        return _Saved(tensor, self, key)

    @staticmethod
    def _unpack(packed):
        return packed.tensor if isinstance(packed, _Saved) else packed

    def _release(self, key: int) -> None:
        entry = self.live[key]
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.live[key]

    def __enter__(self):
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc):
        self._hooks.__exit__(*exc)


class _Saved:
    """A saved tensor in the meter's care: releasing it (the graph freed) lowers the live total."""

    __slots__ = ("tensor", "meter", "key")

    def __init__(self, tensor, meter: SavedTensorMeter, key: int):
        self.tensor, self.meter, self.key = tensor, meter, key

    def __del__(self):
        self.meter._release(self.key)


class KernelCounter(TorchDispatchMode):
    """Counts aten operations that launch device work (views and metadata-only ops excluded), outside
    optimizer steps; each optimizer step adds ``FOREACH_KERNELS_PER_OPTIMIZER_STEP`` instead."""

    def __init__(self):
        super().__init__()
        self.kernels = 0
        self.in_optimizer = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if not (self.in_optimizer or func.is_view or name in NOT_LAUNCHING):
            self.kernels += 1
        return func(*args, **(kwargs or {}))


@dataclass
class Measurement:
    """One training step: FLOPs (model + optimizer), peak saved activations, persistent state, kernels."""

    flops: float
    saved_bytes: float
    state_bytes: float
    kernels: int
    optimizer_flops: float = 0.0

    @property
    def total_flops(self) -> float:
        return self.flops + self.optimizer_flops

    @property
    def memory_bytes(self) -> float:
        return self.state_bytes + self.saved_bytes

    def scaled(self, factor: float) -> Measurement:
        """The step at ``factor`` times the batch: FLOPs and activations scale, state and kernels do not."""
        return Measurement(
            self.flops * factor,
            self.saved_bytes * factor,
            self.state_bytes,
            self.kernels,
            self.optimizer_flops,
        )


def _storages(tensors) -> dict[int, int]:
    out = {}
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.numel():
            s = t.untyped_storage()
            out[s.data_ptr()] = s.nbytes()
    return out


def state_bytes(modules, optimizers) -> int:
    """Bytes of parameters, buffers, gradients and optimizer state (unique storages)."""
    tensors = []
    for m in modules:
        tensors += list(m.parameters()) + list(m.buffers())
        tensors += [p.grad for p in m.parameters() if p.grad is not None]
    for opt in optimizers:
        for group in opt.param_groups:
            tensors += [p for p in group["params"]] + [p.grad for p in group["params"] if p.grad is not None]
        for per_param in opt.state.values():
            tensors += [v for v in per_param.values() if isinstance(v, torch.Tensor)]
    return sum(_storages(tensors).values())


def measure_step(step: Callable[[], object], modules=(), optimizers=()) -> Measurement:
    """Run ``step()`` once and measure it (see the module docstring). ``modules`` / ``optimizers``: what the
    step trains or uses, for the persistent-state bytes and to exclude parameters from the saved tensors."""
    params = {p.untyped_storage().data_ptr() for m in modules for p in (*m.parameters(), *m.buffers())}
    counter, updated = KernelCounter(), []

    def pre_hook(opt, args, kwargs):
        counter.in_optimizer = True

    def post_hook(opt, args, kwargs):
        counter.in_optimizer = False
        counter.kernels += FOREACH_KERNELS_PER_OPTIMIZER_STEP
        updated.append(sum(p.numel() for g in opt.param_groups for p in g["params"] if p.grad is not None))

    handles = [register_optimizer_step_pre_hook(pre_hook), register_optimizer_step_post_hook(post_hook)]
    try:
        with FlopCounterMode(display=False) as flops, SavedTensorMeter(params) as saved, counter:
            step()
    finally:
        for handle in handles:
            handle.remove()
    return Measurement(
        float(flops.get_total_flops()),
        float(saved.peak),
        float(state_bytes(modules, optimizers)),
        counter.kernels,
        float(ADAM_FLOPS_PER_PARAM * sum(updated)),
    )


# --------------------------------------------------------------------------------- the T4 time model
def resnet50_forward_flops() -> float:
    """ResNet-50's forward FLOPs per 224x224 image, by the same counter (8.18 GFLOP)."""
    from torchvision.models import resnet50

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        resnet50()(torch.zeros(1, 3, 224, 224))
    return float(counter.get_total_flops())


def utilisation(resnet_flops: float) -> dict[str, float]:
    """Achieved fraction of the T4 peak in training, from NVIDIA's published ResNet-50 T4 throughput."""
    return {
        p: T4_RESNET50_IMAGES_PER_S[p] * resnet_flops / T4_PEAK[p] * TRAINING_OVER_INFERENCE[p]
        for p in T4_PEAK
    }


def seconds_per_kernel(repeats: int = 200) -> float:
    """Host time per launched op: eager PyTorch's per-op CPU cost measured on a tiny MLP step, plus the
    cudaLaunchKernel cost ``LAUNCH_S``."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(2, 4)

    def step():
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()

    counter = KernelCounter()
    with counter:
        step()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best / counter.kernels + LAUNCH_S


def loop_seconds(steps: int = 300) -> float:
    """Per-step time of ``ck.train.fit`` itself with a step that does nothing, fed by a shuffled DataLoader
    of 128 digit-sized images (the loop, the data pipeline and the history: paid once per step on any GPU)."""
    from torch.utils.data import DataLoader, TensorDataset

    from coursekit.train import fit

    loader = DataLoader(
        TensorDataset(torch.rand(2048, 1, 28, 28)), batch_size=128, shuffle=True, drop_last=True
    )
    start = time.perf_counter()
    fit(lambda batch, index: {"loss": 0.0}, loader, steps, progress=False, seed=0)
    return (time.perf_counter() - start) / steps


@dataclass
class Machine:
    """The assumed T4: utilisation per precision, the per-kernel host overhead and the loop's own per-step
    cost."""

    util: dict[str, float]
    per_kernel_s: float
    per_step_s: float

    def step_seconds(self, m: Measurement, precision: str) -> float:
        compute = m.total_flops / (T4_PEAK[precision] * self.util[precision])
        return max(compute, m.kernels * self.per_kernel_s) + self.per_step_s


# ------------------------------------------------------------------------------------ the notebooks
def _cells(path: Path) -> list[ast.Module]:
    """The parsed code cells of a notebook (IPython magics and shell lines dropped)."""
    trees = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]).splitlines()
        code = "\n".join(line for line in source if not line.lstrip().startswith(("%", "!")))
        try:
            trees.append(ast.parse(code))
        except SyntaxError:
            continue
    return trees


def _literal(node: ast.AST):
    """A literal, or a ``dict(...)`` call of literals (nested), as a Python value."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        return {kw.arg: _literal(kw.value) for kw in node.keywords}
    return ast.literal_eval(node)


def full_config(path: Path) -> dict:
    """The settings the ``full`` profile gives a notebook: its ``ck.profile(...)`` call's common keywords
    updated by ``full=dict(...)`` (as ``coursekit.config.profile`` does with COURSEKIT_PROFILE=full)."""
    for tree in _cells(path):
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "profile"
                and any(kw.arg == "full" for kw in node.keywords)
            ):
                common = {
                    kw.arg: _literal(kw.value)
                    for kw in node.keywords
                    if kw.arg not in ("smoke", "fast", "full")
                }
                full = next(_literal(kw.value) for kw in node.keywords if kw.arg == "full")
                from coursekit.config import Config

                return Config({**common, **full, "profile": "full", "dry_run": False})
    raise ValueError(f"{path}: no ck.profile(..., full=dict(...)) call")


def notebook_defs(path: Path, names: tuple[str, ...], namespace: dict) -> dict:
    """Execute the notebook's top-level definitions (functions, classes, constants) called ``names`` in
    ``namespace`` (which supplies the globals they use) and return it: the benchmark runs the notebook's own
    models and step functions."""
    wanted, found = set(names), []
    for tree in _cells(path):
        for node in tree.body:
            targets = (
                [node.name]
                if isinstance(node, (ast.FunctionDef, ast.ClassDef))
                else [t.id for t in node.targets if isinstance(t, ast.Name)]
                if isinstance(node, ast.Assign)
                else []
            )
            if wanted & set(targets):
                found.append(node)
                wanted -= set(targets)
    if wanted:
        raise ValueError(f"{path.name}: no top-level definition of {sorted(wanted)}")
    exec(compile(ast.Module(body=found, type_ignores=[]), str(path), "exec"), namespace)  # noqa: S102
    return namespace


@dataclass
class Loop:
    """One training (or evaluation) loop of a notebook: ``build(batch)`` returns (step, modules, optimizers)
    for one step at ``batch``; measured at ``measure_batch`` (default ``batch``) and scaled to ``batch``."""

    name: str
    steps: int
    batch: int
    build: Callable | None = None
    measure_batch: int | None = None
    note: str = ""
    analytic: Measurement | None = None  # for loops counted without running PyTorch (TensorFlow, TV)


@dataclass
class Row:
    loop: Loop
    m: Measurement
    minutes: dict[str, float] = field(default_factory=dict)


def run_loop(loop: Loop) -> Measurement:
    """Measure one step of ``loop`` (or take its analytic count), scaled to the loop's batch."""
    if loop.analytic is not None:
        return loop.analytic
    mb = loop.measure_batch or loop.batch
    torch.manual_seed(0)
    step, modules, optimizers = loop.build(mb)
    m = measure_step(step, modules, optimizers)
    return m.scaled(loop.batch / mb) if mb != loop.batch else m


# ------------------------------------------------------------------------------------- TensorFlow (module 11)
TF_NOT_KERNELS = {
    "Const",
    "Reshape",
    "Placeholder",
    "ReadVariableOp",
    "Squeeze",
    "ExpandDims",
    "ShapeN",
    "Shape",
    "Identity",
    "NoOp",
    "VarHandleOp",
    "StopGradient",
    "Size",
    "Rank",
}


def _executed_ops(graph) -> list:
    """The ops a step's outputs and variable updates depend on: what TensorFlow runs after pruning the rest
    (e.g. the filter gradients of a frozen VGG19, built by the tape but never used)."""
    todo = [t.op for t in graph.outputs] + [
        op for op in graph.get_operations() if op.type.startswith(("Assign", "ResourceApply"))
    ]
    seen: dict[str, object] = {}
    while todo:
        op = todo.pop()
        if op.name not in seen:
            seen[op.name] = op
            todo += [t.op for t in op.inputs] + list(op.control_inputs)
    return list(seen.values())


def tf_graph_measurement(graph, variables, trained) -> Measurement:
    """A TensorFlow step's graph: FLOPs from TensorFlow's registered per-op statistics (what ``tf.profiler``'s
    ``float_operation`` sums) over the executed ops, saved bytes (forward tensors the ``gradient_tape`` ops
    consume), state (``variables`` + gradients and two Adam slots per ``trained`` variable) and kernels."""
    from tensorflow.python.framework import ops as tf_ops

    executed = _executed_ops(graph)
    flops, saved = 0, {}
    for op in executed:
        try:
            flops += tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value or 0
        except ValueError:  # no FLOP statistic registered: an elementwise or bookkeeping op
            pass
        if not op.name.startswith("gradient_tape"):
            continue
        for tensor in op.inputs:
            source = tensor.op
            if (
                source.name.startswith("gradient_tape")
                or source.type in TF_NOT_KERNELS
                or not tensor.dtype.is_floating
                or not tensor.shape.is_fully_defined()
            ):
                continue
            saved[tensor.name] = tensor.shape.num_elements() * tensor.dtype.size
    kernels = sum(op.type not in TF_NOT_KERNELS for op in executed)
    size = lambda vs: sum(math.prod(v.shape) for v in vs)  # noqa: E731 (float32 variables: 4 bytes each)
    return Measurement(
        float(flops),
        float(sum(saved.values())),
        4.0 * (size(variables) + 3 * size(trained)),
        kernels,
        float(ADAM_FLOPS_PER_PARAM * size(trained)),
    )


def _quiet_extractor():
    """VGG19's style/content extractor with random weights (FLOPs and memory do not depend on the weights;
    its notice about random weights is not printed here)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from coursekit.tf import style as st

    with contextlib.redirect_stdout(io.StringIO()):
        return st.StyleContentExtractor(weights="random")


def tf_transfer_measurement(size: int, batch: int) -> Measurement:
    """One step of ``coursekit.tf.style.make_train_step`` (Gram-matrix style transfer of ``batch`` images at
    ``size``), the step ``st.transfer`` and the style widget run (compiled, as the full profile does)."""
    extractor = _quiet_extractor()
    import tensorflow as tf

    from coursekit.tf import style as st

    content = tf.random.uniform((batch, size, size, 3), seed=0)
    style = tf.random.uniform((1, size, size, 3), seed=1)
    targets = {"style": extractor(style)["style"], "content": extractor(content)["content"]}
    image = tf.Variable(content)
    step = st.make_train_step(extractor, targets, st.default_weights(extractor.weights), st.make_optimizer())
    graph = step.get_concrete_function(image).graph
    return tf_graph_measurement(graph, extractor.model.variables, [image])


def tf_fast_stylizer_measurement(cfg) -> Measurement:
    """One step of ``coursekit.tf.fast_style.train`` (its own ``make_train_step``: the content targets, the
    stylizer forward, VGG19 on its output, the loss and Adam on the model's weights)."""
    extractor = _quiet_extractor()
    import tensorflow as tf

    from coursekit.tf import fast_style as fs
    from coursekit.tf import style as st

    weights = st.default_weights(extractor.weights)
    model = fs.FastStylizer(transformer_widths=tuple(cfg.widths), residual_blocks=cfg.blocks, seed=0)
    styles = tf.random.uniform((5, fs.STYLE_SIZE, fs.STYLE_SIZE, 3), seed=2)
    grams = [tf.stop_gradient(g) for g in extractor(tf.image.resize(styles, (cfg.crop, cfg.crop)))["style"]]
    optimizer = tf.keras.optimizers.Adam(1e-3)
    variables = model.trainable_variables
    optimizer.build(variables)
    step = tf.function(fs.make_train_step(model, extractor, styles, grams, weights, optimizer))
    graph = step.get_concrete_function(
        tf.TensorSpec((cfg.batch, cfg.crop, cfg.crop, 3)), tf.TensorSpec((), tf.int32)
    ).graph
    return tf_graph_measurement(graph, extractor.model.variables + model.variables, variables)


def tv_measurement(size: int, images: int) -> Measurement:
    """Analytic count of one Chambolle-Pock TV iteration (``coursekit.restoration.tv_restore``) on ``images``
    RGB images: ~30 elementwise FLOPs and ~20 kernels per iteration; primal, dual and helper images live."""
    pixels = images * 3 * size * size
    return Measurement(30.0 * pixels, 0.0, 6 * 4.0 * pixels, 20)


# --------------------------------------------------------------------------------- the loops, per notebook
CPU = torch.device("cpu")
CELEBA_ATTRIBUTES = 18  # data.icgan_faces gives CelebA's 18 attributes when cached (7 offline): the larger


def namespace(cfg, **extra) -> dict:
    """The globals a notebook's definitions use (``import coursekit as ck`` etc.), on the CPU."""
    import numpy as np
    import torch.nn.functional as F

    import coursekit as ck
    from coursekit import losses

    return {
        "torch": torch,
        "nn": nn,
        "F": F,
        "np": np,
        "ck": ck,
        "losses": losses,
        "L": losses,
        "cfg": cfg,
        "device": CPU,
        **extra,
    }


def fit_step(step, batch):
    """A ``ck.train.fit`` step function called once on ``batch``."""
    return lambda: step(batch, 0)


def adam(module, lr=1e-3, betas=(0.9, 0.999)):
    return torch.optim.Adam(module.parameters(), lr=lr, betas=betas)


def images(b, channels, size, *, depth=None):
    shape = (b, channels, size, size) if depth is None else (b, channels, depth, size, size)
    return torch.rand(shape)


def vae_loop(name, steps, batch, make_model, loss_fn, shape, note=""):
    """A loop of ``ck.train.vae_step`` (Adam 1e-3) on images of ``shape`` (C, H, W)."""
    from coursekit.train import vae_step

    def build(b):
        model = make_model()
        opt = adam(model)
        return fit_step(vae_step(model, opt, loss_fn), (images(b, *shape[:2]),)), [model], [opt]

    return Loop(name, steps, batch, build, note=note)


def dcgan_loop(name, steps, batch, size, channels, ngf, ndf, lr=2e-4, note=""):
    """``ck.train.gan_step`` on a ``coursekit.nn.dcgan`` pair, as module 02's ``train_dcgan`` and module 09's
    ``train_prior`` build it."""
    from coursekit.nn import dcgan
    from coursekit.train import gan_step

    def build(b):
        G, D = dcgan.build(size=size, channels=channels, ngf=ngf, ndf=ndf, seed=0)
        opt_g, opt_d = dcgan.optimizers(G, D, lr=lr)
        step = gan_step(G, D, opt_g, opt_d, z_dim=G.z_dim)
        return fit_step(step, (images(b, channels, size),)), [G, D], [opt_g, opt_d]

    return Loop(name, steps, batch, build, note=note)


def lecture_00(cfg, path):
    ns = notebook_defs(path, ("TinyAutoencoder",), namespace(cfg))

    def build(b):
        model = ns["TinyAutoencoder"](cfg.digit_size)
        ns.update(model=model, optimizer=torch.optim.Adam(model.parameters(), lr=2e-3))
        notebook_defs(path, ("step",), ns)
        return fit_step(ns["step"], (images(b, 1, cfg.digit_size),)), [model], [ns["optimizer"]]

    return [
        Loop("tiny autoencoder (notebook step)", cfg.steps, cfg.batch, build),
        Loop("checkpoint demo: half, then resumed", cfg.steps, cfg.batch, build),
    ]


def lecture_01(cfg, path):
    from coursekit import losses
    from coursekit.nn import vae

    ns = notebook_defs(path, ("digit_classifier", "bce_per_image"), namespace(cfg))

    def classifier(b):
        ns["classifier"] = ns["digit_classifier"](cfg.size)
        ns["opt_classifier"] = torch.optim.Adam(ns["classifier"].parameters(), lr=2e-3)
        notebook_defs(path, ("classifier_step",), ns)
        batch = (images(b, 1, cfg.size), torch.randint(10, (b,)))
        return fit_step(ns["classifier_step"], batch), [ns["classifier"]], [ns["opt_classifier"]]

    s, bce = (1, cfg.size, cfg.size), ns["bce_per_image"]
    return [
        Loop("digit classifier (judge)", cfg.clf_steps, cfg.batch, classifier),
        vae_loop(
            "MLP autoencoder 784-400-20",
            cfg.ae_steps,
            cfg.batch,
            lambda: vae.MLPAutoencoder(size=cfg.size, z_dim=20),
            bce,
            s,
        ),
        vae_loop(
            "MLP autoencoder, 2-d code",
            cfg.map_steps,
            cfg.batch,
            lambda: vae.MLPAutoencoder(size=cfg.size, z_dim=2),
            bce,
            s,
        ),
        vae_loop(
            "MLP VAE 784-400-20",
            cfg.ae_steps,
            cfg.batch,
            lambda: vae.MLPVAE(size=cfg.size, z_dim=20),
            losses.elbo_terms,
            s,
        ),
        vae_loop(
            "MLP VAE, 2-d code",
            cfg.map_steps,
            cfg.batch,
            lambda: vae.MLPVAE(size=cfg.size, z_dim=2),
            losses.elbo_terms,
            s,
        ),
        vae_loop(
            "conv VAE",
            cfg.conv_steps,
            cfg.batch,
            lambda: vae.ConvVAE(size=cfg.size, channels=1, z_dim=20),
            losses.elbo_terms,
            s,
        ),
    ]


def lecture_02(cfg, path):
    from coursekit import losses
    from coursekit.nn import dcgan

    ns = notebook_defs(path, ("ToyGenerator", "toy_discriminator", "mlp", "FeatureNet"), namespace(cfg))

    def toy(b):  # train_toy's loop body: one D step, one G step, on 256 1-D samples
        G, D = ns["ToyGenerator"](), ns["toy_discriminator"]()
        opt_g, opt_d = adam(G, 1e-3, (0.5, 0.999)), adam(D, 1e-3, (0.5, 0.999))

        def step():
            x, z = torch.randn(b, 1) + 3.0, torch.randn(b, 1)
            opt_d.zero_grad()
            losses.discriminator_loss(D(x), D(G(z).detach())).backward()
            opt_d.step()
            opt_g.zero_grad()
            losses.generator_loss_nonsaturating(D(G(torch.randn(b, 1)))).backward()
            opt_g.step()

        return step, [G, D], [opt_g, opt_d]

    def ring(b):  # train_ring's step
        G, D = ns["mlp"](16, 2, nn.ReLU), ns["mlp"](2, 1, lambda: nn.LeakyReLU(0.2))
        opt_g, opt_d = adam(G, 1e-3, (0.5, 0.999)), adam(D, 1e-3, (0.5, 0.999))

        def step():
            real, fake = torch.randn(b, 2), G(torch.randn(b, 16))
            opt_d.zero_grad()
            losses.discriminator_loss(D(real), D(fake.detach())).backward()
            opt_d.step()
            opt_g.zero_grad()
            losses.generator_loss_nonsaturating(D(fake)).backward()
            opt_g.step()

        return step, [G, D], [opt_g, opt_d]

    def feature_net(channels, outputs, loss_fn):
        def build(b):
            net = ns["FeatureNet"](channels, cfg.dcgan_size, outputs, "features")
            opt = torch.optim.Adam(net.parameters(), lr=2e-3)
            x = images(b, channels, cfg.dcgan_size)
            y = torch.randint(10, (b,)) if outputs == 10 else torch.rand(b, outputs).round()

            def step():
                loss = loss_fn(net.head(net(x)), y)
                opt.zero_grad()
                loss.backward()
                opt.step()

            return step, [net], [opt]

        return build

    def frechet(b):  # GANMonitor.frechet_now: G on n_eval codes, the feature net on fake and real
        G, _ = dcgan.build(size=cfg.dcgan_size, channels=3, ngf=cfg.width, ndf=cfg.width)
        net = ns["FeatureNet"](3, cfg.dcgan_size, 7, "faces").eval()
        z, real = torch.randn(b, G.z_dim), images(b, 3, cfg.dcgan_size)

        def step():
            with torch.no_grad():
                net(G(z)), net(real)

        return step, [G, net], []

    F = namespace(cfg)["F"]
    return [
        Loop(
            "1-D toy GAN: 2 runs + D warm-ups",
            2 * (cfg.toy_steps + cfg.d_warmup) + cfg.d_warmup,
            256,
            toy,
            note="a warm-up step (D only) counted as a full step",
        ),
        Loop(
            "8-Gaussian ring: 2 runs",
            2 * cfg.ring_steps,
            256,
            ring,
            note="z_dim 16 for both runs (one uses 256)",
        ),
        Loop("feature net, digits", cfg.feature_steps, 64, feature_net(1, 10, F.cross_entropy)),
        Loop(
            "feature net, faces", cfg.feature_steps, 64, feature_net(3, 7, F.binary_cross_entropy_with_logits)
        ),
        dcgan_loop("DCGAN on digits", cfg.digit_steps, cfg.batch, cfg.dcgan_size, 1, cfg.width, cfg.width),
        dcgan_loop("DCGAN on faces", cfg.face_steps, cfg.batch, cfg.dcgan_size, 3, cfg.width, cfg.width),
        Loop(
            "eval: Frechet snapshots (2 runs x snapshots + floors)",
            2 * cfg.snapshots + 2,
            cfg.n_eval,
            frechet,
            measure_batch=256,
            note="forward only",
        ),
    ]


def lecture_03(cfg, path):
    from coursekit import losses
    from coursekit.nn.beta_vae import BetaVAE

    return [
        vae_loop(
            f"beta-VAE x {len(cfg.betas)} betas",
            len(cfg.betas) * cfg.steps,
            cfg.batch,
            lambda: BetaVAE(cfg.size),
            losses.beta_vae_terms(4.0),
            (1, cfg.size, cfg.size),
        )
    ]


def icgan_loops(cfg, width, nef, gan_steps, ez_steps, ey_steps, lr, encoder_lr):
    """The IcGAN's three loops: ``icgan.cgan_step``, ``encoder_z_step``, ``encoder_y_step``."""
    from coursekit.nn import icgan

    n = CELEBA_ATTRIBUTES

    def gan(b):
        G, D = icgan.build(n, size=cfg.size, ngf=width, ndf=width, seed=0)
        opt_g, opt_d = icgan.optimizers(G, D, lr=lr)
        batch = (images(b, 3, cfg.size), torch.rand(b, n).round())
        return fit_step(icgan.cgan_step(G, D, opt_g, opt_d), batch), [G, D], [opt_g, opt_d]

    def encoder(which):
        def build(b):
            G, _ = icgan.build(n, size=cfg.size, ngf=width, ndf=width, seed=0)
            E_z, E_y = icgan.build_encoders(n, size=cfg.size, nef=nef, seed=0)
            opt_ez, opt_ey = icgan.optimizers(E_z, E_y, lr=encoder_lr, betas=(0.9, 0.999))
            if which == "z":
                step = icgan.encoder_z_step(E_z, G, opt_ez, torch.rand(1000, n).round(), batch_size=b)
                return fit_step(step, None), [E_z, G], [opt_ez]
            batch = (images(b, 3, cfg.size), torch.rand(b, n).round())
            return fit_step(icgan.encoder_y_step(E_y, opt_ey), batch), [E_y], [opt_ey]

        return build

    return [
        Loop("conditional GAN (cgan_step)", gan_steps, cfg.batch, gan, 16, f"{n} attributes (CelebA)"),
        Loop("E_z on generated pairs", ez_steps, cfg.batch, encoder("z")),
        Loop("E_y on real pairs", ey_steps, cfg.batch, encoder("y")),
    ]


def lecture_04(cfg, path):
    ns = notebook_defs(path, ("AttributeClassifier",), namespace(cfg))

    def classifier(b):
        ns["C"] = ns["AttributeClassifier"](cfg.size, CELEBA_ATTRIBUTES)
        ns["opt_c"] = torch.optim.Adam(ns["C"].parameters(), lr=2e-3)
        notebook_defs(path, ("classifier_step",), ns)
        batch = (images(b, 3, cfg.size), torch.rand(b, CELEBA_ATTRIBUTES).round())
        return fit_step(ns["classifier_step"], batch), [ns["C"]], [ns["opt_c"]]

    loops = icgan_loops(
        cfg, cfg.width, cfg.nef, cfg.gan_steps, cfg.ez_steps, cfg.ey_steps, cfg.lr, cfg.encoder_lr
    )
    return (
        loops[:1]
        + [Loop("attribute classifier (notebook step)", cfg.clf_steps, cfg.batch, classifier)]
        + loops[1:]
    )


def lecture_05(cfg, path):
    from coursekit import losses
    from coursekit.nn import sr
    from coursekit.nn.vgg import VGGFeatures

    S, F = cfg.scale, namespace(cfg)["F"]

    def pairs(b):
        return images(b, 3, cfg.hr_size // S), images(b, 3, cfg.hr_size)

    def mse(make, srcnn):  # train_mse's step: Adam, cosine schedule, MSE; SRCNN sees the bicubic upsample
        def build(b):
            model = make()
            opt = adam(model, cfg.lr_mse)
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 100)
            lr, hr = pairs(b)

            def step():
                loss = F.mse_loss(model(sr.bicubic(lr, S) if srcnn else lr), hr)
                opt.zero_grad()
                loss.backward()
                opt.step()
                schedule.step()

            return step, [model], [opt]

        return build

    def srgan(b):
        G = sr.SRResNet(
            scale=S, width=cfg.width, n_blocks=cfg.n_blocks, batch_norm=cfg.batch_norm, bicubic_skip=True
        )
        D = sr.Discriminator(size=cfg.hr_size, ndf=cfg.ndf, hidden=cfg.d_hidden)
        extractor = VGGFeatures((cfg.vgg_layer,), weights="random")
        ns = namespace(
            cfg,
            G=G,
            D=D,
            extractor=extractor,
            losses=losses,
            opt_g=adam(G, cfg.lr_gan),
            opt_d=adam(D, cfg.lr_gan),
        )
        notebook_defs(path, ("VGG_SCALE", "srgan_step"), ns)
        return fit_step(ns["srgan_step"], pairs(b)), [G, D, extractor], [ns["opt_g"], ns["opt_d"]]

    return [
        Loop("SRCNN 9-1-5 (MSE)", cfg.srcnn_steps, cfg.batch, mse(lambda: sr.SRCNN().init_identity(), True)),
        Loop(
            "SRResNet (MSE)",
            cfg.srresnet_steps,
            cfg.batch,
            mse(
                lambda: sr.SRResNet(
                    scale=S,
                    width=cfg.width,
                    n_blocks=cfg.n_blocks,
                    batch_norm=cfg.batch_norm,
                    bicubic_skip=True,
                ),
                False,
            ),
        ),
        Loop(f"SRGAN, VGG {cfg.vgg_layer} (notebook step)", cfg.srgan_steps, cfg.batch, srgan, 4),
    ]


def lecture_06(cfg, path):
    from coursekit.nn import esrgan
    from coursekit.nn import learned_degradation as deg
    from coursekit.nn.vgg import VGGFeatures

    lr_side = cfg.hr // cfg.scale

    def sr_pairs(b):
        return images(b, 3, lr_side), images(b, 3, cfg.hr)

    def generator():
        return esrgan.RRDBNet(scale=cfg.scale, width=cfg.width, n_blocks=cfg.n_blocks, growth=cfg.growth)

    def psnr(b):
        ns = namespace(cfg, G=generator())
        ns["opt_psnr"] = adam(ns["G"], cfg.psnr_lr, (0.9, 0.99))
        notebook_defs(path, ("psnr_step",), ns)
        return fit_step(ns["psnr_step"], sr_pairs(b)), [ns["G"]], [ns["opt_psnr"]]

    def gan(b):
        G, D = generator(), esrgan.VGGStyleDiscriminator(size=cfg.hr, ndf=cfg.ndf)
        vgg = VGGFeatures(("conv5_4",), weights="random")
        ns = namespace(
            cfg,
            G=G,
            D=D,
            vgg=vgg,
            opt_g=adam(G, cfg.gan_lr, (0.9, 0.99)),
            opt_d=adam(D, cfg.gan_lr, (0.9, 0.99)),
        )
        notebook_defs(path, ("esrgan_step",), ns)
        return fit_step(ns["esrgan_step"], sr_pairs(b)), [G, D, vgg], [ns["opt_g"], ns["opt_d"]]

    def control(b):
        import coursekit as ck

        G, vgg = generator(), VGGFeatures(("conv5_4",), weights="random")
        ns = namespace(
            cfg,
            G_ctrl=G,
            vgg=vgg,
            opt_ctrl=adam(G, cfg.gan_lr, (0.9, 0.99)),
            no_gan={**ck.losses.ESRGAN_WEIGHTS, "gan": 0.0},
        )
        notebook_defs(path, ("control_step",), ns)
        return fit_step(ns["control_step"], sr_pairs(b)), [G, vgg], [ns["opt_ctrl"]]

    def h2l(b):
        h2l, d_lr = deg.HighToLow(width=cfg.deg_width), deg.SNDiscriminator(deg.LR_SIZE, ndf=cfg.deg_width)
        opt_h2l, opt_dlr = deg.optimizers(h2l, d_lr, lr=cfg.deg_lr)
        ns = namespace(
            cfg,
            h2l=h2l,
            d_lr=d_lr,
            opt_h2l=opt_h2l,
            opt_dlr=opt_dlr,
            deg=deg,
            noise_gen=torch.Generator().manual_seed(0),
        )
        notebook_defs(path, ("h2l_step",), ns)
        batch = (images(b, 3, deg.HR_SIZE), images(b, 3, deg.LR_SIZE))
        return fit_step(ns["h2l_step"], batch), [h2l, d_lr], [opt_h2l, opt_dlr]

    def l2h(b):  # train_low_to_high's step
        l2h = deg.LowToHigh(width=cfg.deg_width)
        d_hr = deg.SNDiscriminator(deg.HR_SIZE, ndf=cfg.deg_width // 2)
        opt_l, opt_d = deg.optimizers(l2h, d_hr, lr=cfg.deg_lr)
        lr, hr = images(b, 3, deg.LR_SIZE), images(b, 3, deg.HR_SIZE)
        return (
            (lambda: deg.low_to_high_step(l2h, d_hr, opt_l, opt_d, lr, hr, d_steps=cfg.d_steps)),
            [l2h, d_hr],
            [opt_l, opt_d],
        )

    def frechet(b):  # vgg_pool on one set of faces (ck.metrics.extract_features)
        net = VGGFeatures(("relu2_2",), weights="random")
        x = images(b, 3, deg.HR_SIZE)

        def step():
            with torch.no_grad():
                net(x)["relu2_2"].mean(dim=(2, 3))

        return step, [net], []

    return [
        Loop("ESRGAN PSNR pre-training (L1)", cfg.psnr_steps, cfg.batch, psnr, measure_batch=4),
        Loop("ESRGAN GAN phase (notebook step)", cfg.gan_steps, cfg.gan_batch, gan, measure_batch=4),
        Loop("control: no discriminator", cfg.gan_steps, cfg.gan_batch, control, measure_batch=4),
        Loop(f"High-to-Low ({cfg.d_steps} D steps per G step)", cfg.h2l_steps, cfg.face_batch, h2l),
        Loop(
            "Low-to-High x 2 (learned, bicubic)",
            2 * cfg.l2h_steps,
            cfg.face_batch,
            l2h,
            note="the learned run's High-to-Low forward per batch not counted",
        ),
        Loop(
            "eval: VGG relu2_2 features, 6 sets",
            6,
            cfg.n_eval,
            frechet,
            measure_batch=128,
            note="forward only",
        ),
    ]


def gan3d_loop(name, steps, batch, size, width, runs=1):
    """``ck.train.gan_step`` on a 3D-GAN with D updated every step (the accuracy rule only skips D work)."""
    from coursekit.nn import gan3d
    from coursekit.train import gan_step

    def build(b):
        G, D = gan3d.build(size, ngf=width, ndf=width, seed=0)
        opt_g, opt_d = gan3d.optimizers(G, D)
        step = gan_step(G, D, opt_g, opt_d, z_dim=G.z_dim)
        return fit_step(step, images(b, 1, size, depth=size)), [G, D], [opt_g, opt_d]

    return Loop(
        name, runs * steps, batch, build, measure_batch=2, note="D updated on every step (upper bound)"
    )


def lecture_07(cfg, path):
    ns = notebook_defs(path, ("blobs", "VoxelClassifier"), namespace(cfg, names=list(range(6))))

    def classifier(b):
        ns.update(clf=ns["VoxelClassifier"](7), NONE=6, gen_c=torch.Generator().manual_seed(1))
        ns["opt_c"] = torch.optim.Adam(ns["clf"].parameters(), lr=2e-3)
        notebook_defs(path, ("clf_step",), ns)
        batch = (images(b, 1, cfg.size, depth=cfg.size), torch.randint(6, (b,)))
        return fit_step(ns["clf_step"], batch), [ns["clf"]], [ns["opt_c"]]

    return [
        Loop("voxel classifier (48 objects + 16 blobs)", cfg.clf_steps, 48, classifier),
        gan3d_loop(
            "3D-GAN x 2 runs (paper rates, D lr 1e-3)", cfg.steps, cfg.batch, cfg.size, cfg.width, runs=2
        ),
    ]


def lecture_08(cfg, path):
    from coursekit.nn import inpainting as ip

    def build(b):
        G, D = ip.build(
            size=cfg.size,
            channels=3,
            ngf=cfg.ngf,
            ndf=cfg.ndf,
            n_blocks=cfg.blocks,
            n_trunk=cfg.trunk,
            seed=cfg.seed,
        )
        opt_g, opt_d = ip.optimizers(G, D, lr=cfg.lr)
        ns = notebook_defs(path, ("pggan_step",), namespace(cfg, G=G, D=D, opt_g=opt_g, opt_d=opt_d, ip=ip))
        return fit_step(ns["pggan_step"], (images(b, 3, cfg.size),)), [G, D], [opt_g, opt_d]

    return [Loop("PG-GAN (notebook step)", cfg.steps, cfg.batch, build, measure_batch=4)]


def prior_loop(cfg):
    from coursekit.nn import gan_prior as gp

    p = {**gp.PRIOR_DEFAULTS, **cfg.prior}
    return dcgan_loop(
        "DCGAN face prior (gan_step)",
        p["steps"],
        p["batch"],
        p["size"],
        3,
        p["ngf"],
        p["ndf"],
        lr=p["lr"],
        note="skipped when its checkpoint is cached",
    )


def latent_loop(cfg, name, steps, batch, note=""):
    """``coursekit.nn.gan_prior.latent_step`` on the frozen prior: Adam on N x restarts codes at once."""
    from coursekit import restoration as R
    from coursekit.nn import dcgan
    from coursekit.nn import gan_prior as gp

    p = {**gp.PRIOR_DEFAULTS, **cfg.prior}

    def build(b):
        G, D = dcgan.build(size=p["size"], channels=3, ngf=p["ngf"], ndf=p["ndf"], seed=0)
        G.eval(), D.eval()
        A = R.make_task("inpainting", cfg.size).A
        y, z = A(images(b, 3, cfg.size)), torch.randn(b, G.z_dim).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=0.03)

        def step():
            with gp.frozen(G, D):
                gp.latent_step(G, D, A, y, z, opt, 0.1)

        return step, [G, D], [opt]

    return Loop(name, steps, batch, build, measure_batch=16, note=note)


def lecture_09(cfg, path):
    from coursekit import restoration as R

    tasks, linear = len(R.TASKS), sum(R.make_task(t, cfg.size).A.linear for t in R.TASKS)
    tv_calls = linear * (len(cfg.tv_lams) + 1)
    return [
        prior_loop(cfg),
        latent_loop(
            cfg,
            f"restore: {tasks} tasks x {cfg.steps} steps",
            tasks * cfg.steps,
            cfg.n_test * cfg.restarts,
            note=f"{cfg.n_test} faces x {cfg.restarts} restarts in one batch",
        ),
        latent_loop(
            cfg,
            "expansion w / w+ / w++: 2 tasks",
            2 * sum(cfg.expand_steps),
            cfg.n_expand * cfg.restarts,
            note="w+ / w++ phases counted as full G passes (upper bound)",
        ),
        latent_loop(
            cfg,
            f"widget: {tasks} tasks x {len(cfg.widget_lams)} lambdas",
            tasks * len(cfg.widget_lams) * cfg.widget_steps,
            cfg.restarts,
        ),
        Loop(
            f"TV baseline: {tv_calls} solves (analytic)",
            tv_calls * cfg.tv_iters,
            cfg.n_test,
            analytic=tv_measurement(cfg.size, cfg.n_test),
            note="validation solves counted at the test batch",
        ),
    ]


def lecture_10(cfg, path):
    from coursekit.nn import dcgan
    from coursekit.nn.old_photos import LatentDiscriminator, Mapping, RepairNet, SpatialVAE

    s, w = cfg.size, cfg.width

    def vae():
        return SpatialVAE(width=w, z_dim=cfg.z_dim, n_blocks=1, norm="none")

    def repair(b, mask_input=False):
        net = RepairNet(width=w, mask_input=mask_input)
        critic = dcgan.init_weights(dcgan.Discriminator(size=s, ndf=w), seed=0)
        opts = [adam(net, cfg.lr, (0.5, 0.999)), adam(critic, cfg.lr / 4, (0.5, 0.999))]
        ns = notebook_defs(path, ("repair_step_for",), namespace(cfg))
        masks = (torch.rand(b, 1, s, s).round(),) if mask_input else ()
        batch = (images(b, 3, s), images(b, 3, s), *masks)
        return fit_step(ns["repair_step_for"](net, critic, *opts), batch), [net, critic], opts

    def vae1(b):
        v, d = vae(), LatentDiscriminator(cfg.z_dim, 2 * w)
        r = images(b, 3, s)
        ns = namespace(
            cfg,
            vae1=v,
            latent_d=d,
            opt_vae1=adam(v, cfg.lr),
            opt_latent_d=adam(d, cfg.lr),
            draw_r=lambda: [r],
        )
        notebook_defs(path, ("vae1_step",), ns)
        return fit_step(ns["vae1_step"], (images(b, 3, s),)), [v, d], [ns["opt_vae1"], ns["opt_latent_d"]]

    def vae2(b):
        ns = namespace(cfg, vae2=vae())
        ns["opt_vae2"] = adam(ns["vae2"], cfg.lr)
        notebook_defs(path, ("vae2_step",), ns)
        return fit_step(ns["vae2_step"], (images(b, 3, s),)), [ns["vae2"]], [ns["opt_vae2"]]

    def mapping(b):
        v1, v2 = vae().requires_grad_(False), vae().requires_grad_(False)
        m = Mapping(cfg.z_dim, 2 * w, n_blocks_in=1, n_blocks_out=1, norm="none")
        ns = namespace(cfg, vae1=v1, vae2=v2, mapping=m, opt_mapping=adam(m, cfg.lr))
        notebook_defs(path, ("mapping_step",), ns)
        batch = (images(b, 3, s), images(b, 3, s), torch.rand(b, 1, s, s).round())
        return fit_step(ns["mapping_step"], batch), [v1, v2, m], [ns["opt_mapping"]]

    return [
        Loop("direct repair + critic (notebook step)", cfg.steps, cfg.batch, repair),
        Loop(
            "VAE1 on X and R + latent D", cfg.steps, cfg.batch, vae1, note="X and R batches: 2x batch images"
        ),
        Loop("VAE2 on Y", cfg.steps, cfg.batch, vae2),
        Loop("mapping T (frozen VAEs)", cfg.steps, cfg.batch, mapping),
        Loop(
            "direct repair + mask (the control)",
            cfg.steps,
            cfg.batch,
            lambda b: repair(b, mask_input=True),
        ),
    ]


def lecture_11(cfg, path):
    transfer = tf_transfer_measurement(cfg.size, 3)
    pair = transfer if cfg.pair_size == cfg.size else tf_transfer_measurement(cfg.pair_size, 3)
    return [
        Loop(f"Gram style transfer, 3 contents at {cfg.size}", cfg.steps, 3, analytic=transfer),
        Loop(f"Gram style transfer, 3 pairs at {cfg.pair_size}", cfg.pair_steps, 3, analytic=pair),
        Loop(
            "style widget: one run per click (1 image)",
            cfg.widget_steps,
            1,
            analytic=tf_transfer_measurement(cfg.pair_size, 1),
            note="interactive; one default run",
        ),
        Loop(
            f"fast stylizer, widths {tuple(cfg.widths)}",
            cfg.fast_steps,
            cfg.batch,
            analytic=tf_fast_stylizer_measurement(cfg),
            note=f"{cfg.crop} px crops",
        ),
    ]


def solution_01(cfg, path):
    from coursekit import losses
    from coursekit.nn.vae import MLPVAE

    return [
        vae_loop(
            "your MLP VAE",
            cfg.steps,
            cfg.batch,
            lambda: MLPVAE(z_dim=cfg.z_dim),
            losses.elbo_terms,
            (1, 28, 28),
            note="the lab's step = vae_step with elbo_terms",
        )
    ]


def solution_02(cfg, path):
    return [
        dcgan_loop(
            "your DCGAN on digits",
            cfg.steps,
            cfg.batch,
            cfg.size,
            1,
            cfg.width,
            cfg.width,
            note="the lab's train_step = gan_step",
        )
    ]


def no_training(what):
    return lambda cfg, path: [
        Loop(f"no training loop ({what})", 0, 0, analytic=Measurement(0.0, 0.0, 0.0, 0))
    ]


def solution_04(cfg, path):
    return icgan_loops(cfg, cfg.width, 16, cfg.gan_steps, cfg.ez_steps, cfg.ey_steps, 2e-4, 1e-3)


def solution_06(cfg, path):
    from coursekit.nn import learned_degradation as deg

    def build(b):
        h2l, disc = deg.HighToLow(width=cfg.width), deg.SNDiscriminator(deg.LR_SIZE, ndf=cfg.width)
        opt_g, opt_d = deg.optimizers(h2l, disc)
        hr, lr, gen = images(b, 3, deg.HR_SIZE), images(b, 3, deg.LR_SIZE), torch.Generator().manual_seed(0)
        step = lambda: deg.high_to_low_step(
            h2l, disc, opt_g, opt_d, hr, lr, d_steps=cfg.d_steps, generator=gen
        )  # noqa: E731
        return step, [h2l, disc], [opt_g, opt_d]

    return [
        Loop(
            f"your High-to-Low ({cfg.d_steps} D steps per G step)",
            cfg.steps,
            cfg.batch,
            build,
            note="the lab's step = degradation.high_to_low_step",
        )
    ]


def solution_07(cfg, path):
    return [gan3d_loop("your 3D-GAN (adaptive step)", cfg.steps, cfg.batch, cfg.size, cfg.width)]


def solution_08(cfg, path):
    from coursekit import losses
    from coursekit.nn import inpainting as ip

    ns = notebook_defs(path, ("TwoHeadDiscriminator",), namespace(cfg))

    def build(b):
        G = ip.init_weights(ip.Generator(3, ngf=cfg.ngf, n_blocks=cfg.blocks))
        D = ns["TwoHeadDiscriminator"](3, cfg.ndf, cfg.size)
        opt_g, opt_d = ip.optimizers(G, D, lr=cfg.lr)
        real = images(b, 3, cfg.size)

        def step():  # the lab's step with coursekit's composite and loss in place of the student's
            mask = ip.random_masks(len(real), cfg.size, seed=0)
            output = G(real, mask)
            done = ip.composite(output, real, mask)
            opt_d.zero_grad()
            losses.pggan_discriminator_loss(*D(real), *D(done.detach())).backward()
            opt_d.step()
            opt_g.zero_grad()
            losses.pggan_generator_loss(output, real, *D(done)).backward()
            opt_g.step()

        return step, [G, D], [opt_g, opt_d]

    return [Loop("your PG-GAN (lab's two-head D)", cfg.steps, cfg.batch, build, measure_batch=8)]


def solution_09(cfg, path):
    return [
        prior_loop(cfg),
        latent_loop(
            cfg, "restore_with_yours x 2 (inpaint, colour)", 2 * cfg.steps, cfg.n_faces * cfg.restarts
        ),
    ]


def solution_10(cfg, path):
    from coursekit.nn.old_photos import Mapping, SpatialVAE

    ns = notebook_defs(path, ("mapping_step",), namespace(cfg))

    def build(b):
        v1, v2 = (
            SpatialVAE(width=cfg.width, z_dim=cfg.z_dim, n_blocks=1, norm="none").eval().requires_grad_(
                False
            )
            for _ in range(2)
        )
        m = Mapping(cfg.z_dim, 2 * cfg.width, norm="none")
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        x, y, mask = images(b, 3, cfg.size), images(b, 3, cfg.size), torch.zeros(b, 1, cfg.size, cfg.size)
        return (lambda: ns["mapping_step"](m, v1, v2, opt, x, y, mask)), [v1, v2, m], [opt]

    return [Loop("your mapping T (notebook mapping_step)", cfg.steps, 16, build)]


def solution_11(cfg, path):
    return [
        Loop(
            f"your Gram style transfer at {cfg.size}",
            cfg.steps,
            1,
            analytic=tf_transfer_measurement(cfg.size, 1),
            note="the lab's train_step = style.make_train_step",
        )
    ]


NOTEBOOKS = {
    "lectures/00_tour": lecture_00,
    "lectures/01_vae": lecture_01,
    "lectures/02_gan": lecture_02,
    "lectures/03_disentanglement": lecture_03,
    "lectures/04_icgan": lecture_04,
    "lectures/05_super_resolution": lecture_05,
    "lectures/06_esrgan_degradation": lecture_06,
    "lectures/07_gan3d": lecture_07,
    "lectures/08_inpainting": lecture_08,
    "lectures/09_gan_prior_restoration": lecture_09,
    "lectures/10_old_photos": lecture_10,
    "lectures/11_style_transfer": lecture_11,
    "solutions/01_vae": solution_01,
    "solutions/02_gan": solution_02,
    "solutions/03_disentanglement": no_training("MIG of given codes, NumPy"),
    "solutions/04_icgan": solution_04,
    "solutions/05_super_resolution": no_training("bicubic + VGG content loss on 3 photos"),
    "solutions/06_esrgan_degradation": solution_06,
    "solutions/07_gan3d": solution_07,
    "solutions/08_inpainting": solution_08,
    "solutions/09_gan_prior_restoration": solution_09,
    "solutions/10_old_photos": solution_10,
    "solutions/11_style_transfer": solution_11,
}


# ------------------------------------------------------------------------------------------------ report
def notebook_rows(key: str, machine: Machine) -> list[Row]:
    """Measure every loop of notebook ``key`` (e.g. "lectures/02_gan") in its full profile; minutes in FP32,
    mixed precision, and FP32 at half the assumed utilisation (the sensitivity to that assumption)."""
    path = ROOT / f"{key}.ipynb"
    half = Machine({p: u / 2 for p, u in machine.util.items()}, machine.per_kernel_s, machine.per_step_s)
    rows = []
    for loop in NOTEBOOKS[key](full_config(path), path):
        m = run_loop(loop)
        minutes = {p: loop.steps * machine.step_seconds(m, p) / 60 for p in T4_PEAK}
        minutes["fp32 at half utilisation"] = loop.steps * half.step_seconds(m, "fp32") / 60
        rows.append(Row(loop, m, minutes))
    return rows


def print_notebook(key: str, rows: list[Row]) -> None:
    print(f"\n### {key}.ipynb (full profile)")
    print("| loop | steps | batch | GFLOP/step | total TFLOP | T4 min FP32 | T4 min mixed | peak GB | note |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        star = "*" if r.loop.measure_batch and r.loop.measure_batch != r.loop.batch else ""
        print(
            f"| {r.loop.name} | {r.loop.steps:,} | {r.loop.batch}{star} | {r.m.total_flops / 1e9:,.2f} | "
            f"{r.loop.steps * r.m.total_flops / 1e12:,.1f} | {r.minutes['fp32']:.2f} | "
            f"{r.minutes['mixed']:.2f} | {r.m.memory_bytes / 1e9:.2f} | {r.loop.note} |"
        )


def summary(results: dict[str, list[Row]]) -> None:
    """One row per notebook: total minutes (FP32, mixed, FP32 at half utilisation), the largest peak memory of
    its loops, ratios against the budget and a verdict. No notebook uses autocast in its training loops
    today, so FP32 is the prediction for them as written; mixed is what ``ck.autocast`` would give."""
    print(
        "\n### Summary: predicted T4 minutes and peak memory per notebook, full profile "
        f"(budget {BUDGET_MINUTES:g} min, {BUDGET_GB:g} GB)"
    )
    print(
        "| notebook | min FP32 | / 20 | min mixed | / 20 | FP32, half util. | max GB | / 14 "
        "| largest loop (FP32 share) | verdict |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key, rows in results.items():
        fp32, mixed, slow = (
            sum(r.minutes[p] for r in rows) for p in ("fp32", "mixed", "fp32 at half utilisation")
        )
        gb = max((r.m.memory_bytes for r in rows), default=0.0) / 1e9
        top = max(rows, key=lambda r: r.minutes["fp32"])
        share = top.minutes["fp32"] / fp32 if fp32 else 0.0
        if mixed > BUDGET_MINUTES:
            verdict = "over in FP32 and mixed"
        elif fp32 > BUDGET_MINUTES:
            verdict = "over in FP32, fits mixed"
        else:
            verdict = "fits" if slow <= BUDGET_MINUTES else "fits (over at half utilisation)"
        if gb > BUDGET_GB:
            verdict += "; memory over"
        print(
            f"| {key} | {fp32:.1f} | {fp32 / BUDGET_MINUTES:.2f} | {mixed:.1f} | "
            f"{mixed / BUDGET_MINUTES:.2f} | {slow:.1f} | {gb:.2f} | {gb / BUDGET_GB:.2f} | "
            f"{top.loop.name} ({share:.0%}) | {verdict} |"
        )
    print(
        "\nThe notebooks' training loops run in FP32 today (none uses ck.autocast): the FP32 column is the "
        "prediction for them as written; 'mixed' is what ck.autocast + ck.grad_scaler (float16 on a T4) "
        "would give. Nothing here ran on a GPU."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--notebook",
        action="append",
        default=[],
        help="NN (lecture and solution NN) or lectures/NN / solutions/NN; repeatable; default all",
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keys = [
        k
        for k in NOTEBOOKS
        if not args.notebook
        or any(k.split("/")[1].startswith(n) if "/" not in n else k.startswith(n) for n in args.notebook)
    ]
    if not keys:
        raise SystemExit(f"--notebook {args.notebook}: no such notebook; known: {', '.join(NOTEBOOKS)}")
    resnet = resnet50_forward_flops()
    machine = Machine(utilisation(resnet), seconds_per_kernel(), loop_seconds())
    print(
        f"T4 model: peaks {T4_PEAK['fp32'] / 1e12:g} / {T4_PEAK['mixed'] / 1e12:g} TFLOP/s (FP32 / FP16 "
        f"tensor cores), {T4_MEMORY_GB} GB; ResNet-50 forward {resnet / 1e9:.2f} GFLOP/image (counted "
        f"here) x NVIDIA's T4 {T4_RESNET50_IMAGES_PER_S['fp32']:g} / {T4_RESNET50_IMAGES_PER_S['mixed']:g} "
        f"img/s x training factor {TRAINING_OVER_INFERENCE['fp32']:.2f} / "
        f"{TRAINING_OVER_INFERENCE['mixed']:.2f} -> utilisation {machine.util['fp32']:.3f} / "
        f"{machine.util['mixed']:.3f}; per-kernel host overhead "
        f"{machine.per_kernel_s * 1e6:.1f} us (measured dispatch + {LAUNCH_S * 1e6:g} us launch); fit loop "
        f"{machine.per_step_s * 1e3:.2f} ms per step (measured)"
    )
    results = {}
    for key in keys:
        start = time.perf_counter()
        results[key] = notebook_rows(key, machine)
        print_notebook(key, results[key])
        print(
            f"(measured in {time.perf_counter() - start:.0f} s on the CPU; * = measured at a smaller batch "
            "and scaled linearly)"
        )
    summary(results)


if __name__ == "__main__":
    main()
