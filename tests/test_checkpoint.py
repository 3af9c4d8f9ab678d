"""coursekit.checkpoint: atomic writes, keep_last, truncated files, weights_only loading."""

import os
import warnings

import numpy as np
import pytest
import torch

from coursekit import checkpoint
from coursekit.checkpoint import (
    CheckpointNotFoundError,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save,
    save_checkpoint,
)


def _state(value: float) -> dict:
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.fill_(value)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    return {
        "models": {"model": model.state_dict()},
        "optimizers": {"optimizer": optimizer.state_dict()},
        "history": {"step": [0, 1], "loss": [0.5, float("nan")]},
        "rng": {"torch": torch.get_rng_state()},
        "note": "plain text",
    }


def _truncate(path, fraction=0.5):
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(int(size * fraction))


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("ckpt_"))


def test_round_trip_loads_with_weights_only(tmp_path):
    state = _state(0.25)
    path = save_checkpoint(tmp_path, 120, state)
    assert path.name == "ckpt_000120.pt"
    raw = torch.load(path, weights_only=True)
    assert raw["step"] == 120
    assert torch.equal(raw["models"]["model"]["weight"], state["models"]["model"]["weight"])
    loaded = load_checkpoint(path)
    assert loaded["history"]["loss"][0] == 0.5
    assert loaded["optimizers"]["optimizer"]["state"][0]["step"].item() == 1
    assert load_checkpoint(tmp_path)["step"] == 120
    assert _leftovers(tmp_path) == []


def test_save_writes_any_path_atomically(tmp_path):
    target = tmp_path / "sub" / "weights.pt"
    assert save(target, weights=torch.arange(4.0), epoch=3) == target
    assert load_checkpoint(target)["epoch"] == 3
    assert _leftovers(target.parent) == ["weights.pt"]


def test_keep_last_deletes_older_checkpoints(tmp_path):
    for step in (5, 10, 15, 20, 25):
        save_checkpoint(tmp_path, step, {"x": torch.tensor(step)}, keep_last=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt_000020.pt", "ckpt_000025.pt"]
    assert latest_checkpoint(tmp_path).name == "ckpt_000025.pt"


def test_keep_last_none_keeps_everything_and_order_is_by_step(tmp_path):
    for step in (100, 5, 20):
        save_checkpoint(tmp_path, step, {}, keep_last=None)
    assert [checkpoint.checkpoint_step(p) for p in list_checkpoints(tmp_path)] == [5, 20, 100]


def test_latest_checkpoint_of_missing_or_empty_directory_is_none(tmp_path):
    assert latest_checkpoint(tmp_path / "nothing-here") is None
    assert latest_checkpoint(tmp_path) is None


def test_failed_replace_keeps_previous_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, 10, {"value": torch.tensor(1.0)})

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, 20, {"value": torch.tensor(2.0)}, keep_last=1)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt_000010.pt"]
    assert load_checkpoint(tmp_path)["value"].item() == 1.0


def test_interrupt_in_the_middle_of_writing_leaves_previous_checkpoint(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, 10, {"value": torch.tensor(1.0)})
    real_save = torch.save

    def half_written_then_interrupted(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.truncate(f.tell() // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", half_written_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, 20, {"value": torch.tensor(2.0)})
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt_000010.pt"]
    assert load_checkpoint(tmp_path / "ckpt_000010.pt")["value"].item() == 1.0


def test_truncated_newest_checkpoint_falls_back_to_previous_with_warning(tmp_path):
    save_checkpoint(tmp_path, 10, {"value": torch.tensor(1.0)})
    newest = save_checkpoint(tmp_path, 20, {"value": torch.tensor(2.0)})
    _truncate(newest)
    warning = r"ckpt_000020\.pt is truncated or not a checkpoint.*falling back to ckpt_000010\.pt"
    with pytest.warns(UserWarning, match=warning):
        state = load_checkpoint(tmp_path)
    assert state["step"] == 10
    assert state["value"].item() == 1.0


def test_intact_newest_checkpoint_loads_without_warning(tmp_path):
    save_checkpoint(tmp_path, 10, {"value": torch.tensor(1.0)})
    save_checkpoint(tmp_path, 20, {"value": torch.tensor(2.0)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_checkpoint(tmp_path)["step"] == 20


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.5, 0.95])
def test_single_truncated_file_raises_value_error_naming_it(tmp_path, fraction):
    path = save_checkpoint(tmp_path, 7, _state(1.0))
    _truncate(path, fraction)
    with pytest.raises(ValueError, match=r"ckpt_000007\.pt is truncated or not a checkpoint"):
        load_checkpoint(path)


def test_text_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.pt is truncated or not a checkpoint"):
        load_checkpoint(path)


def test_directory_with_only_bad_checkpoints_raises(tmp_path):
    _truncate(save_checkpoint(tmp_path, 1, {"a": 1}))
    with pytest.raises(ValueError, match=r"no readable checkpoint.*ckpt_000001\.pt"):
        load_checkpoint(tmp_path)


def test_missing_paths_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no checkpoint at .*missing\.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match=r"no checkpoint files \(ckpt_NNNNNN\.pt\) in the directory"):
        load_checkpoint(tmp_path)
    assert issubclass(CheckpointNotFoundError, ValueError)


class Custom:
    pass


@pytest.mark.parametrize(
    ("bad_state", "message"),
    [
        ({"extra": Custom()}, r"state\['extra'\]: a .*Custom cannot be loaded with weights_only=True"),
        ({"model": torch.nn.Linear(2, 2)}, r"store its \.state_dict\(\) instead"),
        ({"history": {"loss": [0.1, np.float64(0.2)]}}, r"\['history'\]\['loss'\]\[1\].*NumPy"),
    ],
)
def test_objects_weights_only_cannot_load_are_rejected_at_save_time(tmp_path, bad_state, message):
    with pytest.raises(TypeError, match=message):
        save_checkpoint(tmp_path, 1, bad_state)
    assert list(tmp_path.iterdir()) == []


def test_file_with_pickled_objects_is_refused_on_load(tmp_path):
    path = tmp_path / "ckpt_000003.pt"
    torch.save({"extra": Custom()}, path)
    with pytest.raises(ValueError, match=r"ckpt_000003\.pt holds objects that torch\.load\(weights_only"):
        load_checkpoint(path)


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="keep_last"):
        save_checkpoint(tmp_path, 1, {}, keep_last=0)
    with pytest.raises(ValueError, match="step"):
        save_checkpoint(tmp_path, -1, {})
    with pytest.raises(TypeError, match="state: expected a dict"):
        save_checkpoint(tmp_path, 1, [1, 2])


def test_load_module_state_refuses_a_stale_layout_before_touching_any_parameter():
    from coursekit.checkpoint import StaleCheckpointError, load_module_state
    from coursekit.nn import vae

    model = vae.MLPVAE(size=8, hidden=16, z_dim=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    stale = {k: v + 1 for k, v in model.state_dict().items() if not k.startswith(("fc_mu", "fc_logvar"))}
    stale["encoder.3.weight"] = torch.zeros(4, 16)  # the old single head: mu and logvar side by side
    stale_message = r"missing fc_mu.weight, .*unexpected encoder.3.weight.*delete it"
    with pytest.raises(StaleCheckpointError, match=stale_message):
        load_module_state(model, stale, "runs/vae/ckpt_000010.pt")
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    wider = vae.MLPVAE(size=8, hidden=32, z_dim=2).state_dict()
    with pytest.raises(StaleCheckpointError, match=r"reshaped encoder.fc1.weight \(32, 64\) \(expected"):
        load_module_state(model, wider)
    load_module_state(model, {k: v + 1 for k, v in before.items()})
    assert torch.equal(model.fc_mu.bias, before["fc_mu.bias"] + 1)


def test_fit_refuses_to_resume_from_a_checkpoint_of_another_layout(tmp_path):
    from coursekit.checkpoint import StaleCheckpointError
    from coursekit.train import fit

    def make(width):
        model = torch.nn.Sequential(torch.nn.Linear(2, width), torch.nn.Linear(width, 1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

        def step(batch, index):
            loss = model(batch).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return {"loss": float(loss.detach())}

        return model, optimizer, step

    model, optimizer, step = make(4)
    data = [torch.rand(3, 2)]
    fit(step, data, 2, models=model, optimizers=optimizer, checkpoint_dir=tmp_path, checkpoint_every=1,
        progress=False)
    model, optimizer, step = make(8)
    with pytest.raises(StaleCheckpointError, match=r"models\['model'\] of the checkpoint.*reshaped 0.weight"):
        fit(step, data, 4, models=model, optimizers=optimizer, checkpoint_dir=tmp_path, checkpoint_every=1,
            resume=True, progress=False)
