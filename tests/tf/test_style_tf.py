"""coursekit.tf: Gram matrices, losses, the train step, the fast stylizer and its TF-Hub-style SavedModel."""

import os
import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import coursekit.tf as cktf  # noqa: E402

cktf.limit_threads(2)

from coursekit.tf import fast_style, images, style  # noqa: E402


def test_import_coursekit_never_imports_tensorflow():
    code = (
        "import sys, coursekit, coursekit.tf; coursekit.environment_line(); "
        "print('tensorflow' in sys.modules)"
    )
    env = {**os.environ, "COURSEKIT_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
def extractor():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSEKIT_OFFLINE", "1")
        return style.StyleContentExtractor(weights="auto")


def test_offline_vgg19_is_random_and_says_so_loudly(extractor, capsys):
    assert extractor.weights == "random"
    model, source = style.vgg19(weights="random", seed=3)
    assert source == "random"
    assert "VGG19 HAS RANDOM WEIGHTS" in capsys.readouterr().out
    kernel = model.get_layer("block3_conv1").kernel.numpy()
    assert kernel.std() == pytest.approx(np.sqrt(2 / (3 * 3 * 128)), rel=0.02)  # He-normal
    again, _ = style.vgg19(weights="random", seed=3)
    np.testing.assert_array_equal(again.get_layer("block3_conv1").kernel.numpy(), kernel)


def test_gram_matrix_matches_numpy():
    features = np.random.default_rng(0).normal(size=(2, 5, 7, 4)).astype(np.float32)
    expected = np.einsum("bijc,bijd->bcd", features, features) / (5 * 7)
    got = style.gram_matrix(tf.constant(features)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, got.transpose(0, 2, 1), atol=1e-6)


def test_total_variation_matches_the_formula():
    x = np.random.default_rng(1).uniform(size=(3, 6, 5, 3)).astype(np.float32)
    expected = np.abs(np.diff(x, axis=1)).sum(axis=(1, 2, 3)) + np.abs(np.diff(x, axis=2)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(style.total_variation_loss(tf.constant(x)).numpy(), expected, rtol=1e-5)


def test_style_and_content_losses_are_per_image_means():
    rng = np.random.default_rng(2)
    grams = [rng.normal(size=(2, c, c)).astype(np.float32) for c in (3, 4)]
    targets = [rng.normal(size=(1, c, c)).astype(np.float32) for c in (3, 4)]
    got = style.style_loss([tf.constant(g) for g in grams], [tf.constant(t) for t in targets]).numpy()
    per_layer = [((g - t) ** 2).mean(axis=(1, 2)) for g, t in zip(grams, targets, strict=True)]
    expected = np.mean(per_layer, axis=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    features = rng.normal(size=(2, 3, 3, 5)).astype(np.float32)
    target = rng.normal(size=(2, 3, 3, 5)).astype(np.float32)
    got = style.content_loss([tf.constant(features)], [tf.constant(target)]).numpy()
    np.testing.assert_allclose(got, ((features - target) ** 2).mean(axis=(1, 2, 3)), rtol=1e-5)


def test_transfer_lowers_the_loss_and_keeps_pixels_in_range(extractor):
    content = np.random.default_rng(3).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    weights = style.default_weights(extractor.weights)
    result = style.transfer(extractor, content, images.psychedelic(32), 6, weights, snapshot_steps=(0, 6))
    total = result.history["total"]
    assert total.shape == (7, 2)
    assert (total[-1] < total[0]).all()
    assert result.images.min() >= 0 and result.images.max() <= 1
    assert [s for s, _ in result.snapshots] == [0, 6]
    np.testing.assert_allclose(result.snapshots[0][1], content, atol=1e-6)


def test_compiled_step_matches_the_eager_step(extractor):
    content = tf.constant(np.random.default_rng(4).uniform(size=(1, 32, 32, 3)).astype(np.float32))
    targets = {"style": extractor(images.psychedelic(32))["style"], "content": extractor(content)["content"]}
    finals = []
    for compiled in (True, False):
        image = tf.Variable(content)
        step = style.make_train_step(extractor, targets, style.Weights(), style.make_optimizer(), compiled)
        for _ in range(2):
            step(image)
        finals.append(image.numpy())
    np.testing.assert_allclose(finals[0], finals[1], atol=1e-4)


def small_model():
    return fast_style.FastStylizer(transformer_widths=(4, 8, 8), residual_blocks=1, predictor_widths=(4, 8))


@pytest.mark.slow
def test_savedmodel_round_trip_is_identical(tmp_path):
    import tensorflow_hub as hub

    model = small_model()
    content = tf.random.uniform((2, 20, 28, 3), seed=1)
    style_image = tf.random.uniform((1, 256, 256, 3), seed=2)
    expected = model(content, style_image).numpy()
    assert expected.shape == (2, 20, 28, 3)
    loaded = hub.load(str(fast_style.export_hub(model, tmp_path / "stylizer")))
    np.testing.assert_array_equal(loaded(content, style_image)[0].numpy(), expected)
    served = loaded.signatures["serving_default"](placeholder=content, placeholder_1=style_image)["output_0"]
    np.testing.assert_array_equal(served.numpy(), expected)
    mixed = fast_style.interpolate(loaded, content, style_image, tf.zeros_like(style_image), 0.0)
    np.testing.assert_array_equal(mixed.numpy(), expected)


@pytest.mark.slow
def test_fast_training_step_runs_and_changes_the_output(extractor):
    model = small_model()
    contents = np.random.default_rng(5).uniform(size=(4, 24, 24, 3)).astype(np.float32)
    before = model(contents[:1], images.square(images.psychedelic(64), 256)).numpy()
    log = fast_style.train(model, extractor, contents, images.square(images.psychedelic(64), 256), 2, batch=2)
    assert log.history["total"].shape == (2,) and np.isfinite(log.history["total"]).all()
    after = model(contents[:1], images.square(images.psychedelic(64), 256)).numpy()
    assert np.abs(after - before).max() > 0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: images.as_batch("content", np.full((8, 8, 3), 2.0, np.float32)), "expected values in"),
        (lambda: images.as_batch("content", np.zeros((8, 8, 1), np.float32)), r"\(H, W, 3\)"),
        (lambda: style.gram_matrix(tf.zeros((4, 4, 3))), "expected a 4-D tensor"),
        (lambda: style.Weights(style=-1.0), "style weight"),
        (lambda: style.default_weights("imagnet"), "did you mean 'imagenet'"),
        (lambda: style.vgg19(weights="pretrained"), "unknown VGG19 weights"),
        (lambda: small_model()(tf.zeros((1, 32, 32, 3)), tf.zeros((1, 128, 128, 3))), "style: expected"),
        (lambda: small_model()(tf.zeros((1, 8, 8, 3)), tf.zeros((1, 256, 256, 3))), "content: expected"),
        (
            lambda: fast_style.interpolate(
                small_model(),
                tf.zeros((1, 32, 32, 3)),
                tf.zeros((1, 256, 256, 3)),
                tf.zeros((1, 256, 256, 3)),
                1.5,
            ),
            "alpha",
        ),
    ],
)
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: images.as_batch("content", np.zeros((8, 8, 3), np.uint8)), "expected floats"),
        (lambda: images.as_batch("content", [1, 2]), "expected a torch, TF or numpy image"),
        (lambda: style.Weights(tv="1"), "tv weight: expected a number >= 0"),
        (lambda: fast_style.interpolate(None, None, None, None, "half"), "alpha: expected a number in"),
    ],
)
def test_wrong_types_raise_type_error(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_transfer_rejects_mismatched_style_count(extractor):
    with pytest.raises(ValueError, match="expected 1 or 2"):
        style.transfer(
            extractor, np.zeros((2, 16, 16, 3), np.float32), np.zeros((3, 16, 16, 3), np.float32), 1
        )


def test_psychedelic_is_seeded_and_colourful():
    a, b = images.psychedelic(64, seed=1).numpy(), images.psychedelic(64, seed=1).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (1, 64, 64, 3) and 0 <= a.min() and a.max() <= 1
    assert a.std(axis=-1).mean() > 0.1  # colour, not grey


@pytest.mark.slow
def test_widget_runs_with_the_chosen_values(extractor):
    from coursekit.ui.style import style_transfer_widget

    contents = {"noise": np.random.default_rng(6).uniform(size=(20, 24, 3)).astype(np.float32)}
    styles = {"psychedelic": images.psychedelic(32), "flat": np.full((16, 16, 3), 0.5, np.float32)}
    live = style_transfer_widget(extractor, contents, styles, size=24, steps=(1, 5, 2), static=False)
    live.controls["style"].value = "flat"
    live.controls["steps"].value = 3
    result = live.run()
    assert result.history["total"].shape == (4, 1)
    assert live.values["style"] == "flat" and "3 steps" in live.status.value
    assert live.image.value == live.png and live.png.startswith(b"\x89PNG")
    ratio = live.weights().style / live.weights().content
    assert ratio == pytest.approx(1e-3, rel=0.01)  # the random-feature defaults: 1e-2 / 10
    static = style_transfer_widget(extractor, contents, styles, size=24, steps=(1, 5, 1), static=True)
    assert static.widget is None
    static.show()
    assert static.result is not None


def test_old_widget_module_name_still_works_and_warns():
    import importlib

    from coursekit.ui import style as ui_style

    alias = importlib.reload(importlib.import_module("coursekit.tf.widget"))  # a fresh alias: not warned yet
    with pytest.warns(DeprecationWarning, match="coursekit.tf.widget moved to coursekit.ui.style"):
        assert alias.style_transfer_widget is ui_style.style_transfer_widget


def test_dry_run_caps_transfer_and_fast_training(extractor, monkeypatch):
    monkeypatch.setenv("COURSEKIT_MAX_STEPS", "2")
    content = np.random.default_rng(3).uniform(size=(1, 32, 32, 3)).astype(np.float32)
    result = style.transfer(extractor, content, images.psychedelic(32), 1000, compile=False)
    assert result.history["total"].shape == (3, 1)
    contents = np.random.default_rng(5).uniform(size=(4, 24, 24, 3)).astype(np.float32)
    styles = images.square(images.psychedelic(64), 256)
    log = fast_style.train(small_model(), extractor, contents, styles, 3000, batch=2, compile=False)
    assert log.history["total"].shape == (2,)
