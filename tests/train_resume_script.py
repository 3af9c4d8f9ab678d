"""Helper for tests/test_train.py: a deterministic training run that checkpoints and resumes.

    python tests/train_resume_script.py CHECKPOINT_DIR HISTORY_JSON STEPS SLEEP_SECONDS

Fits a linear regression on random minibatches (drawn with torch's RNG, which ``fit`` seeds and
checkpoints), checkpointing every 5 steps with ``resume=True``, and writes the final history as JSON.
"""

import json
import sys
import time
from pathlib import Path

import torch

from coursekit.train import fit

CHECKPOINT_EVERY = 5


def run(checkpoint_dir, steps: int, sleep: float = 0.0):
    data = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=data)
    y = x @ torch.randn(4, 1, generator=data)
    model = torch.nn.Linear(4, 1)
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, 4, generator=data))
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
        return {"loss": loss.item()}

    return fit(
        step, minibatch, steps, models=model, optimizers=optimizer, checkpoint_dir=checkpoint_dir,
        checkpoint_every=CHECKPOINT_EVERY, resume=True, keep_last=2, progress=False, seed=0,
    )  # fmt: skip


if __name__ == "__main__":
    torch.set_num_threads(1)
    directory, output, total, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    result = run(directory, total, pause)
    Path(output).write_text(json.dumps(result.history))
