"""One small training loop for every notebook, plus ready-made steps for autoencoders/VAEs and GANs.

The loop does the bookkeeping; what one step of training means stays in a function you write (or build
with :func:`vae_step` / :func:`gan_step`)::

    def step(batch, step):                      # returns the numbers to log
        x, _ = batch
        loss = ((model(x) - x) ** 2).mean()
        opt.zero_grad(); loss.backward(); opt.step()
        return {"loss": loss.item()}

    result = fit(step, loader, steps=cfg.steps, models=model, optimizers=opt,
                 checkpoint_dir="runs/ae", checkpoint_every=100, resume=True, seed=0)
    result.history["step"], result.history["loss"]

``fit`` cycles over the data, records a history ``{"step": [...], "loss": [...]}``, shows a progress bar
with the latest losses, calls callbacks (e.g. a :class:`coursekit.ui.TrainingDashboard`), writes
checkpoints and, with ``resume=True``, continues from the newest one so the history has every step once.
Ctrl-C (the kernel's interrupt) or a dashboard's Stop button end the loop cleanly: you get the models and
the history so far.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import checkpoint
from .config import dry_run_steps
from .errors import expect_positive_int
from .ui.base import progress_bar


@dataclass
class FitResult:
    """What :func:`fit` returns.

    ``history`` maps "step" and every logged name to a list (one entry per completed step, NaN where a step
    did not log that name); ``step`` is the number of completed steps (the next step index); ``stop_reason``
    is "finished", "stopped" (stop flag) or "interrupted" (Ctrl-C); ``checkpoint`` is the newest checkpoint
    written or resumed from (None without ``checkpoint_dir``).
    """

    history: dict[str, list]
    models: dict[str, Any]
    step: int
    stop_reason: str
    checkpoint: Path | None

    @property
    def finished(self) -> bool:
        """True when all requested steps ran."""
        return self.stop_reason == "finished"


def fit(
    step_fn: Callable[[Any, int], Mapping[str, float]],
    data,
    steps: int,
    *,
    models=None,
    optimizers=None,
    callbacks=(),
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    keep_last: int | None = 3,
    progress: bool = True,
    seed: int | None = None,
    desc: str = "training",
) -> FitResult:
    """Run ``step_fn(batch, step)`` for step = 0, 1, ..., steps - 1 and return a :class:`FitResult`.

    Args:
        step_fn: does one optimisation step and returns the losses to log, e.g. ``{"loss": 0.31}`` or
            ``{"loss_d": 0.7, "loss_g": 1.2}`` (numbers or one-element tensors; a single number means "loss").
        data: a DataLoader or any re-iterable (iterated again each epoch), or a function returning a batch.
        steps: the total number of steps; with ``resume=True`` the count includes the steps already done.
            A dry run (``COURSEKIT_MAX_STEPS=N``) caps it at N.
        models, optimizers: a module / optimizer or a dict ``{name: object}``. They are what checkpoints
            store and resuming restores; anything with ``state_dict()``/``load_state_dict()`` (e.g. an LR
            scheduler) can go into ``optimizers``.
        callbacks: objects with any of ``on_start(history)``, ``on_step(step, logs)``, ``on_end(history)``,
            or plain functions ``f(step, logs)``. A callback whose ``stop_requested`` attribute becomes true
            (a dashboard's Stop button) ends the loop after the current step.
        checkpoint_dir: where ``ckpt_000120.pt`` files go (written atomically, the newest ``keep_last``
            kept). A checkpoint is also written when the loop finishes or is stopped by the flag.
        checkpoint_every: write a checkpoint every this many steps.
        resume: continue from the newest checkpoint in ``checkpoint_dir`` (models, optimizers, history,
            RNG state); starts from step 0 if there is none yet.
        progress: show a tqdm progress bar with the latest losses.
        seed: seeds torch's random numbers for this run (dropout, noise, shuffling). The notebook's own
            random state is saved before and restored after, so nothing outside the run changes.
        desc: the progress bar's label.

    Ctrl-C (KeyboardInterrupt) stops the loop at once; the history of the completed steps and the models
    are returned, one line says where it stopped. No checkpoint is written then, because the interrupt may
    have hit the middle of an update: ``resume=True`` continues from the last checkpoint.
    """
    if not callable(step_fn):
        raise ValueError(
            f"step_fn: expected a function step_fn(batch, step) -> dict of losses, got {step_fn!r}"
        )
    expect_positive_int("steps", steps)
    steps = dry_run_steps(steps)
    if checkpoint_every is not None:
        expect_positive_int("checkpoint_every", checkpoint_every)
    if checkpoint_dir is None and (checkpoint_every is not None or resume):
        raise ValueError("checkpoint_every and resume=True need a checkpoint_dir to write to / read from")
    batches = _endless_batches(data)
    models = _named("models", models, "model")
    optimizers = _named("optimizers", optimizers, "optimizer")
    callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]

    with _random_state_scope(seed):
        history, last_checkpoint = _starting_point(checkpoint_dir, resume, models, optimizers)
        start = len(history["step"])
        if start >= steps:
            print(
                f"Already trained {start} steps (>= steps={steps}) according to {last_checkpoint}; "
                "nothing to do."
            )
            return FitResult(history, models, start, "finished", last_checkpoint)

        def save_now(done: int) -> Path:
            assert checkpoint_dir is not None  # checked above: saving is asked for only with a checkpoint_dir
            state = {
                "models": {name: m.state_dict() for name, m in models.items()},
                "optimizers": {name: o.state_dict() for name, o in optimizers.items()},
                "history": history,
                "rng": _random_state(),
            }
            return checkpoint.save_checkpoint(checkpoint_dir, done, state, keep_last=keep_last)

        _call(callbacks, "on_start", history)
        bar = progress_bar(total=steps, initial=start, desc=desc, disable=not progress, dynamic_ncols=True)
        stop_reason = "finished"
        try:
            for step in range(start, steps):
                logs = _as_logs(step_fn(next(batches), step))
                _record(history, step, logs)
                bar.set_postfix({name: f"{value:.4g}" for name, value in logs.items()}, refresh=False)
                bar.update(1)
                _on_step(callbacks, step, logs)
                if checkpoint_every and (step + 1) % checkpoint_every == 0:
                    last_checkpoint = save_now(step + 1)
                if any(getattr(callback, "stop_requested", False) for callback in callbacks):
                    stop_reason = "stopped"
                    break
        except KeyboardInterrupt:
            stop_reason = "interrupted"
            _drop_incomplete_step(history)
        finally:
            bar.close()

        done = len(history["step"])
        if checkpoint_dir is not None and stop_reason != "interrupted" and done > start:
            if last_checkpoint is None or checkpoint.checkpoint_step(last_checkpoint) != done:
                last_checkpoint = save_now(done)
        if stop_reason != "finished":
            where = f"; last checkpoint {last_checkpoint}" if last_checkpoint else ""
            print(f"Stopped at step {done} of {steps} ({stop_reason}): models and history kept{where}.")
        _call(callbacks, "on_end", history)
        return FitResult(history, models, done, stop_reason, last_checkpoint)


def _named(what: str, objects, default_name: str) -> dict[str, Any]:
    """Normalise None / one object / a dict of objects to a dict ``{name: object}``."""
    if objects is None:
        return {}
    named = dict(objects) if isinstance(objects, Mapping) else {default_name: objects}
    for name, obj in named.items():
        if not (hasattr(obj, "state_dict") and hasattr(obj, "load_state_dict")):
            raise ValueError(
                f"{what}[{name!r}]: expected an object with state_dict()/load_state_dict() "
                f"(an nn.Module or an optimizer), got {type(obj).__name__}"
            )
    return named


def _endless_batches(data) -> Iterator:
    """Batches forever: call ``data`` if it is a function, otherwise iterate it again each epoch."""
    if isinstance(data, Iterator):
        raise ValueError(
            f"data: got a one-shot iterator ({type(data).__name__}), which cannot be re-iterated each epoch; "
            "pass a DataLoader, a list of batches or a function that returns a batch"
        )
    if isinstance(data, Iterable):
        return _cycle(data)
    if callable(data):
        return _call_forever(data)
    raise ValueError(
        f"data: expected a DataLoader, an iterable of batches or a function, got {type(data).__name__}"
    )


def _cycle(data: Iterable) -> Iterator:
    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            raise ValueError(
                "data yielded no batches (an empty dataset, or drop_last=True with too few samples?)"
            )


def _call_forever(make_batch: Callable) -> Iterator:
    while True:
        yield make_batch()


def _as_logs(output) -> dict[str, float]:
    """The step function's result as ``{name: float}`` (a bare number counts as "loss")."""
    items = output.items() if isinstance(output, Mapping) else [("loss", output)]
    logs = {}
    for name, value in items:
        if name == "step":
            raise ValueError("step_fn: 'step' is reserved for the step index; name the value differently")
        try:
            logs[str(name)] = float(value.detach() if hasattr(value, "detach") else value)
        except (TypeError, ValueError, RuntimeError) as error:
            raise ValueError(
                f"step_fn returned {name}={value!r}: expected a number or a one-element tensor "
                "(return a dict like {'loss': loss.item()})"
            ) from error
    return logs


def _record(history: dict[str, list], step: int, logs: dict[str, float]) -> None:
    """Append one step. "step" is appended last, so its length counts the completed steps."""
    done = len(history["step"])
    for name in logs:
        history.setdefault(name, [math.nan] * done)
    for name, values in history.items():
        if name != "step":
            values.append(logs.get(name, math.nan))
    history["step"].append(step)


def _drop_incomplete_step(history: dict[str, list]) -> None:
    """After Ctrl-C inside _record, cut every list back to the completed steps."""
    done = len(history["step"])
    for values in history.values():
        del values[done:]


def _on_step(callbacks: list, step: int, logs: dict[str, float]) -> None:
    for callback in callbacks:
        if hasattr(callback, "on_step"):
            callback.on_step(step, logs)
        elif callable(callback):
            callback(step, logs)


def _call(callbacks: list, method: str, history: dict) -> None:
    for callback in callbacks:
        if hasattr(callback, method):
            getattr(callback, method)(history)


def _starting_point(checkpoint_dir, resume: bool, models: dict, optimizers: dict):
    """A fresh history, or (resume=True) the newest checkpoint's history with models and optimizers loaded."""
    fresh: dict[str, list] = {"step": []}
    if checkpoint_dir is None:
        return fresh, None
    newest = checkpoint.latest_checkpoint(checkpoint_dir)
    if newest is None:
        if resume:
            print(f"No checkpoint in {checkpoint_dir} yet: starting from step 0.")
        return fresh, None
    if not resume:
        raise ValueError(
            f"checkpoint_dir {checkpoint_dir} already holds checkpoints (newest {newest.name}): pass "
            "resume=True to continue that run, or delete them / choose another directory to start over"
        )
    state = checkpoint.load_checkpoint(checkpoint_dir)
    _restore("models", models, state.get("models", {}))
    _restore("optimizers", optimizers, state.get("optimizers", {}))
    if "rng" in state:
        _set_random_state(state["rng"])
    history = state["history"]
    if history["step"] != list(range(state["step"])):
        raise ValueError(
            f"checkpoint at step {state['step']} in {checkpoint_dir} has an inconsistent history"
        )
    resumed_from = checkpoint.checkpoint_path(checkpoint_dir, state["step"])
    print(f"Resuming from {resumed_from.name}: {state['step']} steps done.")
    return history, resumed_from


def _restore(what: str, objects: dict, saved: dict) -> None:
    if set(objects) != set(saved):
        raise ValueError(
            f"the checkpoint holds {what} {sorted(saved)} but fit was given {sorted(objects)}; "
            f"pass the same {what} (same names) as the run that wrote it"
        )
    from torch import nn

    for name, obj in objects.items():
        if isinstance(obj, nn.Module):
            checkpoint.load_module_state(obj, saved[name], f"{what}[{name!r}] of the checkpoint")
        else:
            obj.load_state_dict(saved[name])


def _random_state() -> dict:
    import torch

    state: dict[str, torch.Tensor | list[torch.Tensor]] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_random_state(state: dict) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextlib.contextmanager
def _random_state_scope(seed: int | None):
    """With a seed: seed torch inside, and give the caller's random state back afterwards."""
    if seed is None:
        yield
        return
    import torch

    cuda_devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        yield


def _images(batch):
    """The images of a batch: the batch itself, or the first element of an (images, labels) pair."""
    return batch[0] if isinstance(batch, (list, tuple)) else batch


def _device_of(module):
    import torch

    parameter = next(module.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _loss_terms(output) -> dict:
    """A loss function's result as a dict with the key "loss" (the value to minimise)."""
    if isinstance(output, Mapping):
        if "loss" not in output:
            raise ValueError(f"loss_fn returned a dict without the key 'loss' (got keys {sorted(output)})")
        return dict(output)
    return {"loss": output}


def vae_step(model, optimizer, loss_fn: Callable, device=None) -> Callable:
    """A step function for autoencoder-style models (autoencoder, VAE, beta-VAE).

    Each step takes the images x of the batch (or the first element of an (images, labels) pair), runs
    ``outputs = model(x)`` and minimises ``loss_fn(outputs, x)``. ``loss_fn`` returns the scalar loss, or
    a dict with the key "loss" plus other terms to log, e.g. for a VAE the negative ELBO
    (Kingma & Welling 2014, eq. 10) ``{"loss": recon + kl, "recon": recon, "kl": kl}``.
    ``device`` defaults to the model's device.
    """

    def step(batch, step_index: int) -> dict[str, float]:
        x = _images(batch).to(device or _device_of(model))
        model.train()
        optimizer.zero_grad(set_to_none=True)
        terms = _loss_terms(loss_fn(model(x), x))
        terms["loss"].backward()
        optimizer.step()
        return {name: float(value.detach()) for name, value in terms.items()}

    return step


def gan_step(
    generator,
    discriminator,
    opt_g,
    opt_d,
    z_dim: int | tuple[int, ...],
    *,
    loss_d_fn: Callable | None = None,
    loss_g_fn: Callable | None = None,
    update_d_if: Callable | None = None,
    device=None,
) -> Callable:
    """A step function for GANs: one discriminator update, then one generator update.

    Per batch of real images x: z ~ N(0, I) of shape (B, *z_dim); D minimises
    ``loss_d_fn(D(x), D(G(z).detach()))``, then G minimises ``loss_g_fn(D(G(z)))``. Both take the
    discriminator's raw logits (any shape, e.g. (B, 1) or a PatchGAN map); the defaults are the
    non-saturating losses of Goodfellow et al. 2014 (``coursekit.losses.discriminator_loss`` and
    ``generator_loss_nonsaturating``; pass ``generator_loss_saturating`` to compare).
    Logs ``{"loss_d": ..., "loss_g": ...}``.

    ``update_d_if(real_logits, fake_logits) -> (update, logs)`` makes D's update conditional: it sees the
    logits D's loss is computed from, before the update; D steps only when ``update`` is true, and ``logs``
    (e.g. D's accuracy) join the step's numbers with ``d_updated`` (1.0 or 0.0). 3D-GAN's rule (Wu et al.
    2016: update D only while its accuracy is <= 80%) is ``coursekit.nn.gan3d.accuracy_rule()``.
    ``z_dim`` is an int, or a shape such as (100, 1, 1) for a DCGAN generator; ``device`` defaults to the
    generator's device.
    """
    import torch

    from .losses import discriminator_loss, generator_loss_nonsaturating

    z_shape = (expect_positive_int("z_dim", z_dim),) if isinstance(z_dim, int) else tuple(z_dim)
    loss_d_fn = loss_d_fn or discriminator_loss
    loss_g_fn = loss_g_fn or generator_loss_nonsaturating

    def step(batch, step_index: int) -> dict[str, float]:
        dev = device or _device_of(generator)
        real = _images(batch).to(dev)
        generator.train()
        discriminator.train()
        fake = generator(torch.randn((real.shape[0], *z_shape), device=dev))

        real_logits, fake_logits = discriminator(real), discriminator(fake.detach())
        loss_d = loss_d_fn(real_logits, fake_logits)
        update, logs = update_d_if(real_logits, fake_logits) if update_d_if else (True, {})
        if update:
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

        opt_g.zero_grad(set_to_none=True)
        loss_g = loss_g_fn(discriminator(fake))
        loss_g.backward()
        opt_g.step()
        logs = {"loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach()), **logs}
        return {**logs, "d_updated": float(update)} if update_d_if else logs

    return step
