"""Fast arbitrary style transfer (Ghiasi et al. 2017), from scratch and small enough to train on a CPU.

Two networks, trained together with the VGG19 losses of :mod:`coursekit.tf.style`:

- the **style prediction network** P maps a 256 x 256 style image to a 100-d embedding S. Ghiasi et al.
  use Inception-v3 up to Mixed_6e, a mean over positions and a 1x1 bottleneck; here a small CNN of four
  3x3 stride-2 convolutions does the same job.
- the **style transfer network** T (Dumoulin et al. 2017's design, after Johnson et al.) maps a content image
  to its stylized version; every normalisation is a *conditional instance norm* whose scale gamma and shift
  beta are linear functions of S. Paper layout: conv 9x9/32, conv 3x3 stride 2/64, conv 3x3 stride 2/128,
  5 residual blocks, two nearest-neighbour 2x upsamplings with 3x3 convs (64, 32), conv 9x9/3, sigmoid,
  reflection padding throughout. CPU defaults: widths (16, 32, 64) and 3 residual blocks (``widths`` and
  ``residual_blocks`` restore the paper's (32, 64, 128) and 5).

Because S is a vector, two styles can be mixed by interpolating their embeddings (Ghiasi et al., Fig. 7).
:func:`export_hub` saves the model with the signature of TF-Hub's
``magenta/arbitrary-image-stylization-v1-256``: ``outputs = model(content, style)``, content
[N, H, W, 3] and style [N, 256, 256, 3] floats in [0, 1], ``outputs[0]`` the stylized [N, H, W, 3].
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow import keras

from ..config import dry_run_steps
from ..errors import expect_positive_int, expect_probability
from . import style as vgg_losses
from .images import as_batch

EMBEDDING_DIM = 100
STYLE_SIZE = 256
MIN_CONTENT_SIZE = 16


class ConditionalInstanceNorm(keras.layers.Layer):
    """Instance norm whose scale and shift come from the style embedding (Dumoulin et al. 2017, Eq. 5):
    ``gamma(S) * (x - mean) / std + beta(S)``, mean and std over each image's positions per channel, with
    gamma(S) = 1 + W_g S and beta(S) = W_b S (the 1 + makes a zero embedding the plain instance norm)."""

    def __init__(self, channels: int, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon
        self.to_gamma = keras.layers.Dense(channels, kernel_initializer="zeros", name="gamma")
        self.to_beta = keras.layers.Dense(channels, kernel_initializer="zeros", name="beta")

    def call(self, x, embedding):
        mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
        normalized = (x - mean) * tf.math.rsqrt(variance + self.epsilon)
        gamma = 1.0 + self.to_gamma(embedding)[:, None, None, :]
        beta = self.to_beta(embedding)[:, None, None, :]
        return normalized * gamma + beta


class ReflectConv(keras.layers.Layer):
    """A convolution on a reflection-padded input (no dark borders), as in the stylization networks."""

    def __init__(self, filters: int, kernel: int, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.pad = kernel // 2
        self.conv = keras.layers.Conv2D(filters, kernel, strides=stride, padding="valid")

    def call(self, x):
        p = self.pad
        return self.conv(tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT"))


class ConvNorm(keras.layers.Layer):
    """ReflectConv -> ConditionalInstanceNorm -> activation (ReLU, sigmoid or none)."""

    def __init__(self, filters: int, kernel: int, stride: int = 1, activation: str | None = "relu", **kwargs):
        super().__init__(**kwargs)
        self.conv = ReflectConv(filters, kernel, stride)
        self.norm = ConditionalInstanceNorm(filters)
        self.activation = keras.activations.get(activation)

    def call(self, x, embedding):
        return self.activation(self.norm(self.conv(x), embedding))


class ResidualBlock(keras.layers.Layer):
    """x + CIN(conv(ReLU(CIN(conv(x))))), two 3x3 convolutions."""

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.first = ConvNorm(filters, 3)
        self.second = ConvNorm(filters, 3, activation=None)

    def call(self, x, embedding):
        return x + self.second(self.first(x, embedding), embedding)


class Upsample(keras.layers.Layer):
    """Nearest-neighbour 2x upsampling then ConvNorm (avoids the checkerboard of transposed convolutions)."""

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.conv = ConvNorm(filters, 3)

    def call(self, x, embedding):
        shape = tf.shape(x)
        return self.conv(tf.image.resize(x, (2 * shape[1], 2 * shape[2]), method="nearest"), embedding)


class StylePredictor(keras.Model):
    """Style image (N, 256, 256, 3) in [0, 1] -> embedding (N, 100): strided convs, mean over positions, a
    linear bottleneck (Ghiasi et al. use Inception-v3 to Mixed_6e in place of the small CNN)."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128), embedding_dim: int = EMBEDDING_DIM, **kw):
        super().__init__(**kw)
        self.convs = [keras.layers.Conv2D(w, 3, strides=2, padding="same", activation="relu") for w in widths]
        self.bottleneck = keras.layers.Dense(embedding_dim, name="embedding")

    def call(self, style):
        x = style * 2.0 - 1.0
        for conv in self.convs:
            x = conv(x)
        return self.bottleneck(tf.reduce_mean(x, axis=[1, 2]))


class TransformerNet(keras.Model):
    """Content (N, H, W, 3) in [0, 1] and embedding (N or 1, 100) -> stylized (N, H, W, 3) in [0, 1]."""

    def __init__(self, widths: tuple[int, int, int] = (16, 32, 64), residual_blocks: int = 3, **kw):
        super().__init__(**kw)
        c1, c2, c3 = widths
        self.down: list[keras.layers.Layer] = [
            ConvNorm(c1, 9), ConvNorm(c2, 3, stride=2), ConvNorm(c3, 3, stride=2)
        ]
        self.residual: list[keras.layers.Layer] = [ResidualBlock(c3) for _ in range(residual_blocks)]
        self.up: list[keras.layers.Layer] = [Upsample(c2), Upsample(c1)]
        self.output_conv = ConvNorm(3, 9, activation="sigmoid")

    def call(self, content, embedding):
        shape = tf.shape(content)
        embedding = tf.broadcast_to(embedding, (shape[0], tf.shape(embedding)[-1]))
        x = content
        for layer in (*self.down, *self.residual, *self.up):
            x = layer(x, embedding)
        return self.output_conv(x, embedding)[:, : shape[1], : shape[2], :]


def check_inputs(content, style) -> None:
    """Raise ValueError unless content is (N, H>=16, W>=16, 3) and style (1 or N, 256, 256, 3)."""
    c, s = content.shape, style.shape
    if c.rank != 4 or c[-1] != 3 or (c[1] is not None and min(c[1], c[2]) < MIN_CONTENT_SIZE):
        raise ValueError(f"content: expected (N, H, W, 3) with H, W >= {MIN_CONTENT_SIZE}, got shape {c}")
    if s.rank != 4 or tuple(s[1:]) != (STYLE_SIZE, STYLE_SIZE, 3):
        raise ValueError(
            f"style: expected (N, {STYLE_SIZE}, {STYLE_SIZE}, 3) (see images.square), got shape {s}"
        )
    if c[0] is not None and s[0] is not None and s[0] not in (1, c[0]):
        raise ValueError(f"style: expected 1 or {c[0]} style images (one per content), got {s[0]}")


class FastStylizer(keras.Model):
    """The whole model: ``model(content, style)`` -> stylized; ``embed`` and ``stylize_with`` expose the
    embedding (for interpolating styles)."""

    def __init__(
        self,
        transformer_widths=(16, 32, 64),
        residual_blocks: int = 3,
        predictor_widths=(16, 32, 64, 128),
        embedding_dim: int = EMBEDDING_DIM,
        seed: int = 0,
        **kw,
    ):
        super().__init__(**kw)
        keras.utils.set_random_seed(seed)
        self.predictor = StylePredictor(predictor_widths, embedding_dim)
        self.transformer = TransformerNet(transformer_widths, residual_blocks)
        self.embedding_dim = embedding_dim
        self(tf.zeros((1, 32, 32, 3)), tf.zeros((1, STYLE_SIZE, STYLE_SIZE, 3)))  # create the variables

    def embed(self, style):
        """Style (N, 256, 256, 3) in [0, 1] -> embedding (N, 100)."""
        return self.predictor(style)

    def stylize_with(self, content, embedding):
        """Content (N, H, W, 3) stylized by an embedding (1 or N, 100)."""
        return self.transformer(content, embedding)

    def call(self, content, style):
        check_inputs(content, style)
        return self.stylize_with(content, self.embed(style))


# --------------------------------------------------------------------------------------------- training
@dataclass
class TrainingLog:
    """Per-step losses of :func:`train` (each a (steps,) array, batch means) and the wall time."""

    history: dict[str, np.ndarray]
    seconds: float

    def fall(self) -> float:
        """Total loss over the first 10 steps divided by that over the last 10 (batch means)."""
        total = self.history["total"]
        window = max(1, min(10, len(total) // 4))
        return float(total[:window].mean() / max(total[-window:].mean(), 1e-12))


def make_train_step(model, extractor, styles, style_grams, weights, optimizer):
    """One training step of :func:`train`, uncompiled: ``step(content_batch, style_index) -> loss terms``.

    Stylizes the content batch with one style's predicted embedding, then descends on the batch mean of
    style + content + TV loss (Ghiasi et al. 2017, Eq. 1-3) against that style's precomputed Gram targets
    ``style_grams`` and the content batch's own VGG features; returns each term's batch mean.
    """
    variables = model.trainable_variables

    def step(content_batch, style_index):
        style = tf.gather(styles, style_index[None])
        targets = {
            "style": [tf.gather(g, style_index[None]) for g in style_grams],
            "content": extractor(content_batch)["content"],
        }
        with tf.GradientTape() as tape:
            stylized = model(content_batch, style)
            terms = vgg_losses.loss_terms(extractor(stylized), targets, stylized, weights)
            loss = tf.reduce_mean(terms["total"])
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return {name: tf.reduce_mean(value) for name, value in terms.items()}

    return step


def train(
    model: FastStylizer,
    extractor: vgg_losses.StyleContentExtractor,
    contents,
    styles,
    steps: int,
    batch: int = 4,
    weights: vgg_losses.Weights | None = None,
    learning_rate: float = 1e-3,
    seed: int = 0,
    every: int = 0,
    compile: bool = True,
) -> TrainingLog:
    """Train ``model`` on content crops (M, h, w, 3) and style images (S, 256, 256, 3) with the VGG losses.

    Each step takes ``batch`` random content crops and one random style, stylizes the crops with the
    style's predicted embedding and descends on style + content + TV loss (Ghiasi et al. Eq. 1-3; Gram
    targets of each style computed once, at the crop size). Adam with ``learning_rate``. ``every > 0`` prints
    the losses every that many steps. ``compile=False`` runs the step eagerly (no tracing: for a few steps).
    """
    expect_positive_int("steps", steps)
    steps = dry_run_steps(steps)
    expect_positive_int("batch", batch)
    contents, styles = as_batch("contents", contents), as_batch("styles", styles)
    check_inputs(contents[:1], styles[:1])
    weights = weights or vgg_losses.default_weights(extractor.weights)
    crop = contents.shape[1:3]
    style_grams = [
        tf.stop_gradient(g) for g in extractor(tf.image.resize(styles, crop, antialias=True))["style"]
    ]
    optimizer = keras.optimizers.Adam(learning_rate)
    step = make_train_step(model, extractor, styles, style_grams, weights, optimizer)
    step = tf.function(step) if compile else step
    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {name: [] for name in ("style", "content", "tv", "total")}
    start = time.perf_counter()
    for index in range(steps):
        chosen = rng.choice(contents.shape[0], size=batch, replace=contents.shape[0] < batch)
        terms = step(tf.gather(contents, chosen), tf.constant(int(rng.integers(styles.shape[0]))))
        for name, value in terms.items():
            history[name].append(float(value))
        if every and (index + 1) % every == 0:
            print(f"step {index + 1}/{steps}: " + ", ".join(f"{k} {v[-1]:.4g}" for k, v in history.items()))
    return TrainingLog({k: np.array(v) for k, v in history.items()}, time.perf_counter() - start)


# --------------------------------------------------------------------------------------------- SavedModel
class HubModule(tf.Module):
    """What :func:`export_hub` saves: the TF-Hub call ``module(content, style) -> [stylized]``, ``embed`` and
    ``stylize_with`` (for style interpolation) and a ``serve`` signature, all with fixed input signatures.

    The module tracks the model's variables and the traced functions, not the Keras objects themselves
    (Keras would add a one-input serving signature that a two-input model cannot trace).
    """

    def __init__(self, model: FastStylizer):
        super().__init__()
        self.model_variables = list(model.variables)
        content = tf.TensorSpec([None, None, None, 3], tf.float32)
        style = tf.TensorSpec([None, STYLE_SIZE, STYLE_SIZE, 3], tf.float32)
        embedding = tf.TensorSpec([None, model.embedding_dim], tf.float32)
        self.embed = tf.function(model.embed, input_signature=[style])
        self.stylize_with = tf.function(model.stylize_with, input_signature=[content, embedding])
        self.__call__ = tf.function(
            lambda content, style: [model(content, style)], input_signature=[content, style]
        )
        self.serve = tf.function(
            lambda placeholder, placeholder_1: {"output_0": model(placeholder, placeholder_1)},
            input_signature=[content, style],
        )


def export_hub(model: FastStylizer, path) -> Path:
    """Save ``model`` as a SavedModel with the TF-Hub stylization signature; returns the folder.

    ``hub.load(path)`` (or ``tf.saved_model.load``) gives an object called as ``outputs = m(content, style)``
    like the real TF-Hub model, and the ``serving_default`` signature (``output_0``) for serving.
    """
    path = Path(path)
    module = HubModule(model)
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def load_hub(handle):
    """``tensorflow_hub.load(handle)``: a TF-Hub URL (cached in ``TFHUB_CACHE_DIR``) or a SavedModel dir."""
    import tensorflow_hub as hub

    return hub.load(str(handle))


def real_hub_model(timeout: float = 20.0):
    """The real Magenta model from TF-Hub, or None (with a one-line reason) when offline or unreachable.

    Checks ``coursekit.data.is_online()`` first (no network touched when ``COURSEKIT_OFFLINE=1``) and
    gives the download ``timeout`` seconds per socket operation, so a bad network cannot hang a notebook.
    """
    import socket

    from ..data.registry import entry, is_online

    handle = entry("tfhub_stylization").url
    if not is_online():
        print(f"TF-Hub: offline, so the real model ({handle}) is not loaded; our own model stands in")
        return None
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        model = load_hub(handle)
    except Exception as error:  # any download/parse failure means: carry on with our own model
        print(f"TF-Hub: could not load {handle} ({type(error).__name__}: {error}); our own model stands in")
        return None
    finally:
        socket.setdefaulttimeout(previous)
    print(f"TF-Hub: loaded {handle}")
    return model


def interpolate(model, content, style_a, style_b, alpha: float):
    """Content stylized by the mixed embedding (1 - alpha) P(a) + alpha P(b) (Ghiasi et al., Fig. 7);
    ``model`` is a :class:`FastStylizer` or a module loaded by :func:`load_hub` from :func:`export_hub`."""
    expect_probability("alpha", alpha)
    content = as_batch("content", content)
    check_inputs(content, as_batch("style_a", style_a))
    check_inputs(content, as_batch("style_b", style_b))
    mixed = (1.0 - alpha) * model.embed(style_a) + alpha * model.embed(style_b)
    return model.stylize_with(content, mixed)
