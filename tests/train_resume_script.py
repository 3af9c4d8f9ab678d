"""Helper for tests/test_train.py: a deterministic training run that checkpoints and resumes.

    python tests/train_resume_script.py CHECKPOINT_DIR HISTORY_JSON STEPS SLEEP_SECONDS

Fits ``regression()`` (also the fixture of tests/test_train.py), checkpointing every 5 steps with
``resume=True``, and writes the final history as JSON.
"""

import json
import sys
import time
from pathlib import Path

import torch

from coursekit.train import fit

CHECKPOINT_EVERY = 5


def regression(seed=0, sleep: float = 0.0):
    """A tiny linear regression: model, optimizer and a step function using random minibatches.

    The minibatches come from torch's global RNG, which ``fit`` seeds and checkpoints.
    """
    data = torch.Generator().manual_seed(seed)
    x = torch.randn(128, 3, generator=data)
    y = x @ torch.tensor([[1.5], [-2.0], [0.5]]) + 0.3
    model = torch.nn.Linear(3, 1)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)

    def minibatch():
        index = torch.randint(0, len(x), (16,))
        return x[index], y[index]

    def step(batch, step):
        xb, yb = batch
        loss = ((model(xb) - yb) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        time.sleep(sleep)
        return {"loss": loss}

    return model, optimizer, step, minibatch


def run(checkpoint_dir, steps: int, sleep: float = 0.0):
    model, optimizer, step, minibatch = regression(sleep=sleep)
    return fit(
        step, minibatch, steps, models=model, optimizers=optimizer, checkpoint_dir=checkpoint_dir,
        checkpoint_every=CHECKPOINT_EVERY, resume=True, keep_last=2, progress=False, seed=0,
    )  # fmt: skip


if __name__ == "__main__":
    torch.set_num_threads(1)
    directory, output, total, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    result = run(directory, total, pause)
    Path(output).write_text(json.dumps(result.history))
