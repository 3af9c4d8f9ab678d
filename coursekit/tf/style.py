"""Neural style transfer with VGG19 Gram matrices (Gatys et al. 2016), as the TensorFlow tutorial does it.

An image is optimised pixel by pixel so that its VGG19 features match a content image in one deep layer
(``block5_conv2``) and the Gram matrices of its features match a style image in five layers
(``block1_conv1`` .. ``block5_conv1``). Sharma, Sharma & Uplap (section 2.3.2) follow the TensorFlow tutorial
``site/en/tutorials/generative/style_transfer.ipynb``; its values are the defaults here:

    loss = style_weight * mean_l MSE(G_l(x), G_l(s)) + content_weight * MSE(F(x), F(c)) + tv_weight * TV(x)

with mean squared errors, style_weight 1e-2, content_weight 1e4, tv_weight 30, G_l = F_l^T F_l / (H W) and
Adam (learning rate 0.02, beta_1 0.99, epsilon 0.1), the image clipped to [0, 1] after every step.

Every loss here is computed **per image** (a vector of length N), so one run on a batch of N contents is N
independent style transfers: Adam acts element-wise, and the gradient of the summed loss with respect to
image i is the gradient of image i's own loss.

Weights: ``weights="auto"`` loads Keras' ImageNet VGG19 weights (registry entries ``keras_vgg19_notop`` and
``keras_vgg19``) when they are cached or can be downloaded, else builds VGG19 with seeded random He-normal
weights and prints a loud notice: the losses then measure random features (which still carry texture
statistics, but the results are not those of the paper).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from ..config import dry_run_steps
from ..errors import expect_choice, expect_number, expect_positive_int, loud_notice
from .images import as_batch

CONTENT_LAYERS = ("block5_conv2",)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
STYLE_WEIGHT = 1e-2
CONTENT_WEIGHT = 1e4
TV_WEIGHT = 30.0
ADAM = dict(learning_rate=0.02, beta_1=0.99, epsilon=0.1)
WEIGHTS = ("auto", "imagenet", "random")
CLASSIFIER_SIZE = 224


# --------------------------------------------------------------------------------------------- VGG19
def randomize_weights(model: tf.keras.Model, seed: int = 0) -> tf.keras.Model:
    """Give every conv / dense layer seeded He-normal kernels (std sqrt(2 / fan_in)) and zero biases.

    He initialisation keeps the scale of ReLU activations roughly constant through VGG19's 16 conv layers,
    so random features (and their Gram matrices) neither vanish nor explode. Deterministic in ``seed``.
    """
    for index, layer in enumerate(model.layers):
        if getattr(layer, "kernel", None) is None:
            continue
        kernel = layer.kernel
        fan_in = int(np.prod(kernel.shape[:-1]))
        noise = tf.random.stateless_normal(kernel.shape, seed=[seed, index], dtype=kernel.dtype)
        kernel.assign(noise * np.sqrt(2.0 / fan_in))
        if layer.bias is not None:
            layer.bias.assign(tf.zeros_like(layer.bias))
    return model


def _imagenet_weights_file(include_top: bool, weights: str):
    """The cached/downloaded Keras weights file, or None to fall back to random weights."""
    from ..data.download import resolve

    name = "keras_vgg19" if include_top else "keras_vgg19_notop"
    folder = resolve(name, "online" if weights == "imagenet" else "auto", dataset=f"VGG19 ImageNet ({name})")
    if folder is None:
        return None
    from ..data.registry import entry

    return folder / entry(name).files[0].filename


def load_weights(model: tf.keras.Model, path) -> None:
    """``model.load_weights(path)`` for Keras' legacy VGG19 .h5 files, with a ValueError that names the file,
    what was expected and what came when it is not HDF5, is cut short or holds another network's layers."""
    try:
        model.load_weights(str(path))
    except (OSError, ValueError) as error:  # h5py: OSError for a truncated / non-HDF5 file; Keras: ValueError
        layers = sum(1 for layer in model.layers if layer.weights)
        raise ValueError(
            f"VGG19 weights {path}: expected Keras' VGG19 weights (an HDF5 .h5 file with {layers} layers of "
            f"weights, as keras-applications publishes), got a file Keras cannot load: {error}"
        ) from error


def vgg19(include_top: bool = False, weights: str = "auto", seed: int = 0) -> tuple[tf.keras.Model, str]:
    """Keras VGG19 and a word on its weights: ``(model, "imagenet")`` or ``(model, "random")``.

    ``weights``: 'imagenet' (download or fail), 'random' (seeded He-normal, no network), or 'auto'
    (ImageNet when cached or reachable, else random with a loud notice). ``include_top`` adds the
    1000-class classifier (fixed 224 x 224 input); without it the model takes any image size.
    """
    expect_choice("VGG19 weights", weights, WEIGHTS)
    path = None if weights == "random" else _imagenet_weights_file(include_top, weights)
    shape = (CLASSIFIER_SIZE, CLASSIFIER_SIZE, 3) if include_top else (None, None, 3)
    model = tf.keras.applications.VGG19(include_top=include_top, weights=None, input_shape=shape)
    if path is not None:
        load_weights(model, path)
        print(f"VGG19: ImageNet weights from {path}")
        return model, "imagenet"
    randomize_weights(model, seed)
    loud_notice(
        [
            "VGG19 HAS RANDOM WEIGHTS: the ImageNet weights are not available (offline).",
            "Style and content losses measure random (He-normal, seeded) features, not what ImageNet taught.",
            "Random convolutions still capture texture statistics, so style transfer works in part, but the",
            "results are NOT those of Gatys et al. Online, weights='auto' downloads the real weights.",
        ]
    )
    return model, "random"


def preprocess(images: tf.Tensor) -> tf.Tensor:
    """[0, 1] RGB -> VGG19's input: x * 255, RGB -> BGR, minus the ImageNet mean pixel (Keras 'caffe')."""
    return tf.keras.applications.vgg19.preprocess_input(images * 255.0)


def top5(image, weights: str = "auto", seed: int = 0) -> tuple[list[tuple[str, float]], str]:
    """VGG19's five most likely ImageNet classes for one image, as (label, probability), and the weights used.

    Sharma, Sharma & Uplap check that the classifier recognises the content image before using its features.
    The
    labels are meaningful only with ImageNet weights; with random weights they are class numbers
    ('class 417') of an untrained classifier, and the returned weights word says 'random'.
    """
    batch = as_batch("image", image)[:1]
    model, source = vgg19(include_top=True, weights=weights, seed=seed)
    resized = tf.image.resize(batch, (CLASSIFIER_SIZE, CLASSIFIER_SIZE), antialias=True)
    probabilities = model(preprocess(resized), training=False).numpy()
    best = np.argsort(probabilities[0])[::-1][:5]
    labels = [f"class {i}" for i in best]
    if source == "imagenet":
        try:
            decoded = tf.keras.applications.vgg19.decode_predictions(probabilities, top=5)[0]
            labels = [name for _, name, _ in decoded]
        except Exception as error:  # the class index file is a separate download; numbers are the fallback
            print(f"VGG19: ImageNet class names unavailable ({type(error).__name__}); showing class numbers")
    return [(label, float(probabilities[0, i])) for label, i in zip(labels, best, strict=True)], source


class StyleContentExtractor:
    """VGG19 cut at the style and content layers; calling it on images in [0, 1] (N, H, W, 3) returns
    ``{"style": [Gram matrix per style layer], "content": [features per content layer]}``."""

    def __init__(
        self,
        weights: str = "auto",
        seed: int = 0,
        style_layers: tuple[str, ...] = STYLE_LAYERS,
        content_layers: tuple[str, ...] = CONTENT_LAYERS,
    ):
        vgg, self.weights = vgg19(include_top=False, weights=weights, seed=seed)
        names = [layer.name for layer in vgg.layers]
        for layer in (*style_layers, *content_layers):
            expect_choice("VGG19 layer", layer, names)
        vgg.trainable = False
        self.style_layers, self.content_layers = tuple(style_layers), tuple(content_layers)
        outputs = [vgg.get_layer(name).output for name in (*self.style_layers, *self.content_layers)]
        self.model = tf.keras.Model(vgg.input, outputs)

    def __call__(self, images: tf.Tensor) -> dict[str, list[tf.Tensor]]:
        if images.shape.rank != 4 or images.shape[-1] != 3:
            raise ValueError(f"images: expected a batch (N, H, W, 3) in [0, 1], got shape {images.shape}")
        features = self.model(preprocess(images), training=False)
        count = len(self.style_layers)
        return {"style": [gram_matrix(f) for f in features[:count]], "content": list(features[count:])}


# --------------------------------------------------------------------------------------------- losses
def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Gram matrices G[b, c, d] = sum_ij F[b, i, j, c] F[b, i, j, d] / (H W) of features (N, H, W, C).

    The spatially averaged correlations between channels (Gatys et al. 2016, Eq. 3, normalised by the
    number of positions as in the TensorFlow tutorial): a style description that forgets where things are.
    """
    if features.shape.rank != 4:
        raise ValueError(f"features: expected a 4-D tensor (N, H, W, C), got shape {features.shape}")
    result = tf.einsum("bijc,bijd->bcd", features, features)
    shape = tf.shape(features)
    positions = tf.cast(shape[1] * shape[2], result.dtype)
    return result / positions


def _per_image_mse(got: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
    """Mean squared error of each image of a batch: shape (N,)."""
    squared = tf.square(got - target)
    return tf.reduce_mean(squared, axis=tf.range(1, tf.rank(squared)))


def style_loss(grams: list[tf.Tensor], target_grams: list[tf.Tensor]) -> tf.Tensor:
    """Per image (N,): the mean over style layers of the MSE between Gram matrices (targets broadcast)."""
    if len(grams) != len(target_grams) or not grams:
        raise ValueError(
            f"style_loss: expected equally many (>= 1) grams and targets, got {len(grams)} and "
            f"{len(target_grams)}"
        )
    return tf.add_n([_per_image_mse(g, t) for g, t in zip(grams, target_grams, strict=True)]) / len(grams)


def content_loss(features: list[tf.Tensor], target_features: list[tf.Tensor]) -> tf.Tensor:
    """Per image (N,): the mean over content layers of the MSE between feature maps."""
    if len(features) != len(target_features) or not features:
        raise ValueError(
            f"content_loss: expected equally many (>= 1) features and targets, got "
            f"{len(features)} and {len(target_features)}"
        )
    terms = [_per_image_mse(f, t) for f, t in zip(features, target_features, strict=True)]
    return tf.add_n(terms) / len(features)


def total_variation_loss(images: tf.Tensor) -> tf.Tensor:
    """Per image (N,): sum of absolute differences of neighbouring pixels, ``tf.image.total_variation``."""
    if images.shape.rank != 4:
        raise ValueError(f"images: expected a batch (N, H, W, C), got shape {images.shape}")
    return tf.image.total_variation(images)


@dataclass(frozen=True)
class Weights:
    """The three loss weights (defaults: the TensorFlow tutorial's)."""

    style: float = STYLE_WEIGHT
    content: float = CONTENT_WEIGHT
    tv: float = TV_WEIGHT

    def __post_init__(self):
        for name in ("style", "content", "tv"):
            value = getattr(self, name)
            if not expect_number(f"{name} weight", value, "a number >= 0") >= 0:
                raise ValueError(f"{name} weight: expected a number >= 0, got {value!r}")


def default_weights(features: str) -> Weights:
    """The loss weights for VGG19 with ``features`` 'imagenet' (the tutorial's) or 'random'.

    With random features the tutorial's content weight pins the image to the photo: deep random features
    react to every pixel change, and in 100 Adam steps at 64 px the total loss fell only 1.2x. For random
    features the content weight is lowered 1000x (1e4 -> 10) and the TV weight 30x (30 -> 1): on 80 px photos
    the total loss then falls 12-15x in 200 steps (64 px cat, content 10: 6.6x with TV 30, 10.8x with TV 3).
    """
    expect_choice("VGG19 features", features, ("imagenet", "random"))
    return Weights() if features == "imagenet" else Weights(style=STYLE_WEIGHT, content=10.0, tv=1.0)


def loss_terms(outputs: dict, targets: dict, images: tf.Tensor, weights: Weights) -> dict[str, tf.Tensor]:
    """The weighted per-image terms ``style``, ``content``, ``tv`` and their sum ``total`` (each (N,))."""
    terms = {
        "style": weights.style * style_loss(outputs["style"], targets["style"]),
        "content": weights.content * content_loss(outputs["content"], targets["content"]),
        "tv": weights.tv * total_variation_loss(images),
    }
    terms["total"] = terms["style"] + terms["content"] + terms["tv"]
    return terms


def clip_0_1(images: tf.Tensor) -> tf.Tensor:
    """Keep pixel values in [0, 1]."""
    return tf.clip_by_value(images, 0.0, 1.0)


def make_optimizer() -> tf.keras.optimizers.Optimizer:
    """Adam with the tutorial's settings: learning rate 0.02, beta_1 0.99, epsilon 0.1."""
    return tf.keras.optimizers.Adam(**ADAM)


def make_train_step(extractor, targets: dict, weights: Weights, optimizer, compile: bool = True):
    """A training step ``step(image_variable) -> loss terms`` (a ``tf.function`` unless ``compile=False``).

    One step: the loss of the image under a GradientTape, its gradient, one Adam update of the pixels,
    then clipping to [0, 1]. ``compile=False`` returns the same step run eagerly (for the benchmark).
    """

    def train_step(image: tf.Variable) -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            terms = loss_terms(extractor(image), targets, image, weights)
            loss = tf.reduce_sum(terms["total"])
        gradient = tape.gradient(loss, image)
        optimizer.apply_gradients([(gradient, image)])
        image.assign(clip_0_1(image))
        return terms

    return tf.function(train_step) if compile else train_step


@dataclass
class Result:
    """A finished run: final ``images`` (N, H, W, 3) numpy, the per-step loss ``history`` ({term: (steps + 1,
    N) array}, row 0 = before any step), and ``snapshots`` [(step, images)] taken along the way."""

    images: np.ndarray
    history: dict[str, np.ndarray]
    snapshots: list[tuple[int, np.ndarray]] = field(default_factory=list)
    seconds: float = 0.0

    def fall(self) -> np.ndarray:
        """Per image: the total loss at the start divided by the total loss at the end."""
        total = self.history["total"]
        return total[0] / np.maximum(total[-1], 1e-12)


def transfer(
    extractor: StyleContentExtractor,
    content,
    style,
    steps: int,
    weights: Weights | None = None,
    snapshot_steps: tuple[int, ...] = (),
    compile: bool = True,
) -> Result:
    """Style transfer of ``content`` (N, H, W, 3) towards ``style`` ((1 or N), h, w, 3), starting from the
    content image (as the tutorial), for ``steps`` Adam steps. Images may be torch (C, H, W) / (B, C, H, W)
    or numpy / TF channels-last, in [0, 1]; the style image may have another size. ``compile=False`` runs
    the steps eagerly: slower per step, but no tracing (seconds), which pays off for a handful of steps."""
    import time

    expect_positive_int("steps", steps)
    steps = dry_run_steps(steps)
    weights = weights or Weights()
    content, style = as_batch("content", content), as_batch("style", style)
    if style.shape[0] not in (1, content.shape[0]):
        raise ValueError(
            f"style: expected 1 or {content.shape[0]} images (one per content), got {style.shape[0]}"
        )
    targets = {"style": extractor(style)["style"], "content": extractor(content)["content"]}
    image = tf.Variable(content)
    step = make_train_step(extractor, targets, weights, make_optimizer(), compile)
    start = time.perf_counter()
    history: dict[str, list[np.ndarray]] = {name: [] for name in ("style", "content", "tv", "total")}
    snapshots = [(0, image.numpy())] if 0 in snapshot_steps else []
    for index in range(1, steps + 1):
        terms = step(image)  # the loss of the image before this update, i.e. after index - 1 steps
        for name, value in terms.items():
            history[name].append(value.numpy())
        if index in snapshot_steps:
            snapshots.append((index, image.numpy()))
    for name, value in loss_terms(extractor(image), targets, image, weights).items():
        history[name].append(value.numpy())
    return Result(
        image.numpy(), {k: np.stack(v) for k, v in history.items()}, snapshots, time.perf_counter() - start
    )
