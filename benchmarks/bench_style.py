"""Speed of lecture 11's style transfer on CPU: the tf.function train step vs the same step run eagerly, and
the
stylization latency of our fast-stylizer SavedModel for one 256x256 image (target <= 0.2 s).

VGG19 has random weights here (speed does not depend on the weights). Times are the median of ``--repeats``
calls after one warm-up call (which traces the tf.function). The load average is printed: on a shared machine
the numbers are upper bounds.

    TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/bench_style.py [--size 128] [--repeats 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def timed(fn, repeats: int) -> float:
    """Median seconds per call of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="side of the optimised image (train step)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import coursekit.tf as cktf

    cktf.limit_threads(args.threads)
    import tensorflow as tf

    from coursekit.tf import fast_style, images, style

    extractor = style.StyleContentExtractor(weights="random")
    content = tf.random.uniform((1, args.size, args.size, 3), seed=0)
    targets = {
        "style": extractor(images.psychedelic(args.size))["style"],
        "content": extractor(content)["content"],
    }
    weights = style.default_weights("random")
    rows = []
    for compiled in (True, False):
        image = tf.Variable(content)
        step = style.make_train_step(extractor, targets, weights, style.make_optimizer(), compile=compiled)
        rows.append(
            (
                f"train step {args.size}x{args.size}, {'tf.function' if compiled else 'eager'}",
                timed(lambda step=step, image=image: step(image), args.repeats),
            )
        )

    model = fast_style.FastStylizer()
    with tempfile.TemporaryDirectory() as folder:
        loaded = fast_style.load_hub(fast_style.export_hub(model, os.path.join(folder, "stylizer")))
        square = tf.random.uniform((1, 256, 256, 3), seed=1)
        style_image = images.square(images.psychedelic(256), 256)
        rows.append(
            (
                "SavedModel stylization 256x256 (hub.load)",
                timed(lambda: loaded(square, style_image)[0].numpy(), args.repeats),
            )
        )

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, {args.threads} TF threads")
    for name, seconds in rows:
        print(f"{name:48s} {seconds * 1000:8.1f} ms")
    print(f"tf.function speed-up: {rows[1][1] / rows[0][1]:.2f}x")


if __name__ == "__main__":
    main()
