"""coursekit.train: the loop, its history, stopping, checkpoints, resuming (also after SIGKILL)."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import train_resume_script
from train_resume_script import regression

from coursekit.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from coursekit.train import fit, gan_step, vae_step

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "train_resume_script.py"


def quiet_fit(step, data, steps, **kwargs):
    return fit(step, data, steps, progress=False, **kwargs)


def test_losses_fall_and_history_has_one_entry_per_step():
    model, optimizer, step, _ = regression()
    data = torch.Generator().manual_seed(1)
    x = torch.randn(64, 3, generator=data)
    dataset = torch.utils.data.TensorDataset(x, x @ torch.tensor([[1.0], [2.0], [-1.0]]))
    loader = torch.utils.data.DataLoader(dataset, batch_size=16, shuffle=True)
    result = quiet_fit(step, loader, 80, models=model, optimizers=optimizer, seed=0)
    loss = result.history["loss"]
    assert result.finished and result.step == 80
    assert result.history["step"] == list(range(80)) and len(loss) == 80
    assert all(isinstance(value, float) for value in loss)
    assert sum(loss[-10:]) < 0.05 * sum(loss[:10])
    assert result.models == {"model": model}


def test_vae_step_logs_every_term_and_the_elbo_falls():
    torch.manual_seed(0)
    data = torch.Generator().manual_seed(0)
    x = (torch.rand(64, 1, 4, 4, generator=data) > 0.5).float()

    class TinyVAE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.Linear(16, 4)
            self.decoder = torch.nn.Linear(2, 16)

        def forward(self, x):
            mu, logvar = self.encoder(x.flatten(1)).chunk(2, dim=1)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            return self.decoder(z).view_as(x), mu, logvar

    def negative_elbo(outputs, x):
        logits, mu, logvar = outputs
        recon = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        kl = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp()) / len(x)
        return {"loss": recon + kl, "recon": recon, "kl": kl}

    model = TinyVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    batches = [(x[i : i + 16], torch.zeros(16)) for i in range(0, 64, 16)]
    result = quiet_fit(vae_step(model, optimizer, negative_elbo), batches, 60, seed=0)
    history = result.history
    assert set(history) == {"step", "loss", "recon", "kl"}
    assert history["loss"][0] == pytest.approx(history["recon"][0] + history["kl"][0], rel=1e-5)
    assert sum(history["loss"][-5:]) < 0.85 * sum(history["loss"][:5])


def test_gan_step_updates_both_networks_with_z_of_the_requested_shape():
    torch.manual_seed(0)
    seen = []

    class Generator(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Linear(3, 2)

        def forward(self, z):
            seen.append(tuple(z.shape))
            return self.net(z.flatten(1))

    generator, discriminator = Generator(), torch.nn.Linear(2, 1)
    opt_g = torch.optim.SGD(generator.parameters(), lr=0.1)
    opt_d = torch.optim.SGD(discriminator.parameters(), lr=0.1)
    before_g = [p.detach().clone() for p in generator.parameters()]
    before_d = [p.detach().clone() for p in discriminator.parameters()]
    real = [torch.randn(8, 2) + 3.0]
    step = gan_step(generator, discriminator, opt_g, opt_d, z_dim=(3, 1, 1))
    result = quiet_fit(step, real, 5, seed=0)
    assert set(result.history) == {"step", "loss_d", "loss_g"}
    assert all(math.isfinite(v) for v in result.history["loss_d"] + result.history["loss_g"])
    assert seen == [(8, 3, 1, 1)] * 5
    assert all(not torch.equal(a, b) for a, b in zip(before_g, generator.parameters(), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(before_d, discriminator.parameters(), strict=True))


def test_gan_step_updates_d_only_when_the_rule_says_so_and_logs_what_it_returns():
    torch.manual_seed(0)
    generator, discriminator = torch.nn.Linear(3, 2), torch.nn.Linear(2, 1)
    opt_g = torch.optim.SGD(generator.parameters(), lr=0.1)
    opt_d = torch.optim.SGD(discriminator.parameters(), lr=0.1)
    seen = []

    def every_other_step(real_logits, fake_logits):
        seen.append((real_logits.shape, fake_logits.requires_grad))
        return len(seen) % 2 == 0, {"calls": float(len(seen))}

    step = gan_step(generator, discriminator, opt_g, opt_d, z_dim=3, update_d_if=every_other_step)
    real = torch.randn(8, 2)
    before = discriminator.weight.detach().clone()
    logs = step(real, 0)
    assert logs["d_updated"] == 0.0 and logs["calls"] == 1.0 and set(logs) == {"loss_d", "loss_g", "calls",
                                                                                 "d_updated"}
    assert torch.equal(discriminator.weight, before)
    assert step(real, 1)["d_updated"] == 1.0
    assert not torch.equal(discriminator.weight, before)
    assert seen == [(torch.Size([8, 1]), True)] * 2  # the logits of D's loss, before the update


def test_keyboard_interrupt_returns_history_and_model_so_far(tmp_path, capsys):
    model, optimizer, step, minibatch = regression()

    def interrupted_at_7(batch, index):
        if index == 7:
            raise KeyboardInterrupt
        return step(batch, index)

    result = quiet_fit(
        interrupted_at_7, minibatch, 20, models=model, optimizers=optimizer,
        checkpoint_dir=tmp_path, checkpoint_every=3,
    )  # fmt: skip
    assert result.stop_reason == "interrupted" and not result.finished
    assert result.step == 7 and result.history["step"] == list(range(7)) and len(result.history["loss"]) == 7
    assert result.models["model"] is model
    assert "Stopped at step 7 of 20 (interrupted)" in capsys.readouterr().out
    assert latest_checkpoint(tmp_path).name == "ckpt_000006.pt"
    assert result.checkpoint == tmp_path / "ckpt_000006.pt"


def test_interrupt_inside_recording_leaves_lists_of_equal_length():
    calls = []

    def callback(step, logs):
        calls.append(step)
        if step == 3:
            raise KeyboardInterrupt

    result = quiet_fit(lambda batch, step: {"a": 1.0, "b": 2.0}, lambda: None, 10, callbacks=[callback])
    assert result.step == 4 and {len(v) for v in result.history.values()} == {4}


class StopAfter:
    """A callback that raises its stop flag after a given step, like the dashboard's Stop button."""

    def __init__(self, step):
        self.step = step
        self.stop_requested = False

    def on_step(self, step, logs):
        self.stop_requested = step >= self.step


def test_stop_flag_ends_the_loop_after_the_current_step_and_checkpoints(tmp_path, capsys):
    model, optimizer, step, minibatch = regression()
    result = quiet_fit(
        step, minibatch, 50, models=model, optimizers=optimizer, callbacks=[StopAfter(4)],
        checkpoint_dir=tmp_path,
    )  # fmt: skip
    assert result.stop_reason == "stopped" and result.step == 5
    assert result.history["step"] == [0, 1, 2, 3, 4]
    assert "Stopped at step 5 of 50 (stopped)" in capsys.readouterr().out
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt_000005.pt"]


def test_checkpoint_every_writes_files_and_a_final_one(tmp_path):
    model, optimizer, step, minibatch = regression()
    result = quiet_fit(
        step, minibatch, 12, models=model, optimizers=optimizer,
        checkpoint_dir=tmp_path, checkpoint_every=5, keep_last=None,
    )  # fmt: skip
    assert [p.name for p in list_checkpoints(tmp_path)] == [f"ckpt_0000{n:02d}.pt" for n in (5, 10, 12)]
    assert result.checkpoint == tmp_path / "ckpt_000012.pt"
    state = load_checkpoint(tmp_path / "ckpt_000010.pt")
    assert state["step"] == 10 and state["history"]["step"] == list(range(10))
    assert state["history"]["loss"] == result.history["loss"][:10]
    assert set(state["models"]) == {"model"} and set(state["optimizers"]) == {"optimizer"}
    assert torch.equal(load_checkpoint(tmp_path)["models"]["model"]["weight"], model.weight.detach())


def test_resume_after_a_stop_continues_the_step_count_like_an_uninterrupted_run(tmp_path, capsys):
    model, optimizer, step, minibatch = regression()
    straight = quiet_fit(step, minibatch, 20, models=model, optimizers=optimizer, seed=3)

    model, optimizer, step, minibatch = regression()
    first = quiet_fit(
        step, minibatch, 20, models=model, optimizers=optimizer, seed=3,
        callbacks=[StopAfter(7)], checkpoint_dir=tmp_path, checkpoint_every=5,
    )  # fmt: skip
    assert first.step == 8
    model, optimizer, step, minibatch = regression()  # a fresh process would rebuild everything
    second = quiet_fit(
        step, minibatch, 20, models=model, optimizers=optimizer, seed=3, checkpoint_dir=tmp_path,
        checkpoint_every=5, resume=True,
    )  # fmt: skip
    assert "Resuming from ckpt_000008.pt: 8 steps done." in capsys.readouterr().out
    assert second.finished and second.history["step"] == list(range(20))
    assert second.history["loss"][:8] == first.history["loss"]
    assert second.history["loss"] == pytest.approx(straight.history["loss"], rel=1e-6)
    assert latest_checkpoint(tmp_path).name == "ckpt_000020.pt"


def test_resume_when_already_done_and_resume_without_checkpoints(tmp_path, capsys):
    model, optimizer, step, minibatch = regression()
    quiet_fit(step, minibatch, 6, models=model, optimizers=optimizer, checkpoint_dir=tmp_path, resume=True)
    assert "No checkpoint in" in capsys.readouterr().out
    calls = []
    again = quiet_fit(
        lambda batch, step: calls.append(step) or 0.0, minibatch, 4, models=model, optimizers=optimizer,
        checkpoint_dir=tmp_path, resume=True,
    )  # fmt: skip
    assert calls == [] and again.step == 6 and again.history["step"] == list(range(6))
    assert "nothing to do" in capsys.readouterr().out


def test_existing_checkpoints_without_resume_or_with_other_models_are_refused(tmp_path):
    model, optimizer, step, minibatch = regression()
    quiet_fit(step, minibatch, 3, models=model, optimizers=optimizer, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=r"already holds checkpoints.*pass resume=True"):
        quiet_fit(step, minibatch, 6, models=model, optimizers=optimizer, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=r"holds models \['model'\] but fit was given \['G'\]"):
        quiet_fit(step, minibatch, 6, models={"G": model}, optimizers=optimizer, checkpoint_dir=tmp_path,
                  resume=True)  # fmt: skip


def test_data_forms_lists_are_cycled_and_functions_called():
    seen = []
    quiet_fit(lambda batch, step: seen.append(batch) or 0.0, ["a", "b", "c"], 7)
    assert seen == ["a", "b", "c", "a", "b", "c", "a"]
    counter = iter(range(100))
    seen.clear()
    quiet_fit(lambda batch, step: seen.append(batch) or 0.0, lambda: next(counter), 3)
    assert seen == [0, 1, 2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ((b for b in range(3)), "one-shot iterator"),
        ([], "data yielded no batches"),
        (42, "expected a DataLoader"),
    ],
)
def test_bad_data_is_rejected(data, message):
    with pytest.raises(ValueError, match=message):
        quiet_fit(lambda batch, step: 0.0, data, 3)


def test_step_results_numbers_tensors_and_missing_names():
    outputs = [torch.tensor(0.5), {"a": 1}, {"b": torch.tensor([2.0])}]
    result = quiet_fit(lambda batch, step: outputs[step], [None], 3)
    history = result.history
    assert history["loss"][0] == 0.5 and math.isnan(history["loss"][1])
    assert history["a"][1] == 1.0 and math.isnan(history["a"][0]) and math.isnan(history["a"][2])
    assert history["b"][2] == 2.0 and {len(v) for v in history.values()} == {3}


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ({"loss": "low"}, "expected a number"),
        ({"loss": torch.ones(3)}, "one-element"),
        ({"step": 1.0}, "reserved"),
    ],
)
def test_bad_step_results_are_rejected(output, message):
    with pytest.raises(ValueError, match=message):
        quiet_fit(lambda batch, step: output, [None], 2)


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="steps"):
        quiet_fit(lambda b, s: 0.0, [None], 0)
    with pytest.raises(ValueError, match="need a checkpoint_dir"):
        quiet_fit(lambda b, s: 0.0, [None], 3, checkpoint_every=1)
    with pytest.raises(ValueError, match="need a checkpoint_dir"):
        quiet_fit(lambda b, s: 0.0, [None], 3, resume=True)
    with pytest.raises(ValueError, match=r"models\['model'\]: expected an object with state_dict"):
        quiet_fit(lambda b, s: 0.0, [None], 3, models="not a model")
    with pytest.raises(ValueError, match="step_fn"):
        quiet_fit("not a function", [None], 3)


def test_seed_makes_runs_repeatable_and_leaves_the_callers_random_state_alone():
    def noisy(batch, step):
        return {"loss": torch.rand(()).item()}

    state = torch.get_rng_state()
    first = quiet_fit(noisy, [None], 5, seed=11).history["loss"]
    assert torch.equal(torch.get_rng_state(), state)
    assert quiet_fit(noisy, [None], 5, seed=11).history["loss"] == first
    assert quiet_fit(noisy, [None], 5, seed=12).history["loss"] != first


def test_callbacks_are_called_in_order():
    events = []

    class Recorder:
        def on_start(self, history):
            events.append(("start", len(history["step"])))

        def on_step(self, step, logs):
            events.append(("step", step, logs["loss"]))

        def on_end(self, history):
            events.append(("end", len(history["step"])))

    callbacks = [Recorder(), lambda step, logs: events.append(step)]
    quiet_fit(lambda batch, step: float(step), [None], 2, callbacks=callbacks)
    assert events == [("start", 0), ("step", 0, 0.0), 0, ("step", 1, 1.0), 1, ("end", 2)]


def test_progress_bar_shows_the_latest_losses(capsys):
    fit(lambda batch, step: {"loss_d": 0.25, "loss_g": 1.5}, [None], 3, desc="gan")
    err = capsys.readouterr().err
    assert "gan" in err and "loss_d=0.25" in err and "loss_g=1.5" in err


@pytest.mark.slow
def test_resume_after_sigkill_gives_a_continuous_history(tmp_path):
    steps, directory = 40, tmp_path / "ckpt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent)}
    command = [sys.executable, str(SCRIPT), str(directory), str(tmp_path / "history.json"), str(steps)]
    victim = subprocess.Popen([*command, "0.1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while latest_checkpoint(directory) is None or list_checkpoints(directory)[-1].name < "ckpt_000010.pt":
            assert victim.poll() is None, victim.communicate()
            assert time.monotonic() < deadline, "no checkpoint appeared within 60 s"
            time.sleep(0.05)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    assert victim.returncode == -signal.SIGKILL
    saved = load_checkpoint(directory)
    killed_at = saved["step"]
    assert 10 <= killed_at < steps
    assert not (tmp_path / "history.json").exists()

    resumed = subprocess.run([*command, "0"], env=env, capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming from ckpt_{killed_at:06d}.pt: {killed_at} steps done." in resumed.stdout
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["step"] == list(range(steps))
    assert history["loss"][:killed_at] == saved["history"]["loss"]
    uninterrupted = train_resume_script.run(tmp_path / "reference", steps)
    assert history["loss"] == pytest.approx(uninterrupted.history["loss"], rel=1e-5)
