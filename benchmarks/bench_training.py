"""One training epoch with coursekit's loop vs the plain loops of pytorch/examples: images/s and the ratio.

Run: ``python benchmarks/bench_training.py [--vae-images N] [--dcgan-images N] [--threads T] [--repeats R]``.

Two models, each trained for one epoch over the same number of images three ways:

- **examples loop**: the model, loss and loop as pytorch/examples writes them (``vae/main.py``,
  ``dcgan/main.py``), fed by a torchvision ``VisionDataset`` that returns PIL images through
  ``transforms.ToTensor()`` (and ``Normalize`` for DCGAN), like ``datasets.MNIST`` / ``ImageFolder``;
- **examples loop, tensor data**: the same loop over a ``TensorDataset`` of the images coursekit uses, which
  isolates the cost of the loop from the cost of the data pipeline;
- **coursekit**: ``ck.train.fit`` with ``vae_step`` (``coursekit.nn.vae.MLPVAE``, ``losses.elbo_terms``) or
  ``gan_step`` (``coursekit.nn.dcgan``, BCE-with-logits losses) over coursekit's in-memory datasets.

VAE: 784-400-20, batch 128, Adam 1e-3, images = the digits (offline: scikit-learn's digits at 28x28) repeated
to ``--vae-images``. DCGAN: 64x64 RGB, batch 64, Adam 2e-4 (0.5, 0.999), the course's faces. Each epoch is run
``--repeats`` times in turn and the best time is kept (the machine may be shared). The table prints images/s
and coursekit's speed relative to each baseline (> 1: coursekit is faster).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision import transforms
from torchvision.datasets import VisionDataset

from coursekit import data as ck_data
from coursekit import losses
from coursekit.nn import dcgan, vae
from coursekit.train import fit, gan_step, vae_step


# ------------------------------------------------------------ the pytorch/examples side, as written there
class ExamplesVAE(nn.Module):
    """pytorch/examples vae/main.py: fc1 784-400, fc21/fc22 400-20, fc3 20-400, fc4 400-784."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def examples_vae_loss(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def examples_vae_epoch(model, optimizer, loader):
    model.train()
    train_loss = 0
    for data, _ in loader:
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = examples_vae_loss(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
    return train_loss


def examples_dcgan(nz=100, ngf=64, ndf=64, nc=3):
    """pytorch/examples dcgan/main.py's Generator and Discriminator (Sigmoid output), with weights_init."""
    net_g = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
        nn.BatchNorm2d(ngf * 8),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf * 4),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf * 2),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
        nn.Tanh(),
    )
    net_d = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 2),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 4),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 8),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
        nn.Sigmoid(),
    )

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            torch.nn.init.normal_(m.weight, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            torch.nn.init.normal_(m.weight, 1.0, 0.02)
            torch.nn.init.zeros_(m.bias)

    return net_g.apply(weights_init), net_d.apply(weights_init)


def examples_dcgan_epoch(net_g, net_d, opt_g, opt_d, loader, nz=100):
    criterion = nn.BCELoss()
    real_label, fake_label = 1, 0
    for data in loader:
        net_d.zero_grad()
        real_cpu = data[0]
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype)
        output = net_d(real_cpu).view(-1)
        err_d_real = criterion(output, label)
        err_d_real.backward()
        noise = torch.randn(batch_size, nz, 1, 1)
        fake = net_g(noise)
        label.fill_(fake_label)
        output = net_d(fake.detach()).view(-1)
        err_d_fake = criterion(output, label)
        err_d_fake.backward()
        opt_d.step()
        net_g.zero_grad()
        label.fill_(real_label)
        output = net_d(fake).view(-1)
        err_g = criterion(output, label)
        err_g.backward()
        opt_g.step()


class ArrayImageDataset(VisionDataset):
    """A torchvision dataset over uint8 images, returning PIL images through ``transform`` (as MNIST does)."""

    def __init__(self, images_uint8: np.ndarray, transform):
        super().__init__(root="", transform=transform)
        self.images = images_uint8  # (N, H, W) or (N, H, W, 3)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        mode = "L" if self.images.ndim == 3 else "RGB"
        return self.transform(Image.fromarray(self.images[index], mode=mode)), 0


def as_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> uint8 (N, H, W) for one channel, (N, H, W, 3) for RGB."""
    array = (images * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return array[..., 0] if array.shape[-1] == 1 else array


# ------------------------------------------------------------------------------------------------ timing
def best_time(runs: dict, repeats: int) -> dict[str, float]:
    """Each function once per round, ``repeats`` rounds in turn, after a warm-up; the best time of each."""
    for run in runs.values():
        run(warmup=True)
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run(warmup=False)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def repeated(images: torch.Tensor, n: int) -> torch.Tensor:
    reps = -(-n // len(images))
    return images.repeat(reps, 1, 1, 1)[:n].contiguous()


def vae_runs(n_images: int, batch: int = 128) -> dict:
    images = repeated(ck_data.digits(split="train", size=28).images, n_images)
    labels = torch.zeros(len(images), dtype=torch.long)
    examples_data = ArrayImageDataset(as_uint8(images), transforms.ToTensor())
    tensor_data = TensorDataset(images, labels)

    def examples(dataset):
        def run(warmup: bool):
            torch.manual_seed(0)
            model = ExamplesVAE()
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            loader = DataLoader(dataset, batch_size=batch, shuffle=True)
            if warmup:
                loader = [next(iter(loader))]
            examples_vae_epoch(model, optimizer, loader)

        return run

    def coursekit(warmup: bool):
        torch.manual_seed(0)
        model = vae.MLPVAE(size=28, channels=1, hidden=400, z_dim=20)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        loader = DataLoader(tensor_data, batch_size=batch, shuffle=True)
        steps = 1 if warmup else len(loader)
        fit(vae_step(model, optimizer, losses.elbo_terms), loader, steps, progress=False, seed=0)

    return {
        "examples loop, torchvision dataset": examples(examples_data),
        "examples loop, tensor data": examples(tensor_data),
        "coursekit fit + vae_step": coursekit,
    }


def dcgan_runs(n_images: int, batch: int = 64) -> dict:
    images = ck_data.faces(n=n_images, size=64, seed=0).images
    to_minus_one_one = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5,) * 3, (0.5,) * 3)]
    )
    examples_data = ArrayImageDataset(as_uint8(images), to_minus_one_one)
    tensor_data = TensorDataset(images * 2 - 1)

    def examples(dataset):
        def run(warmup: bool):
            torch.manual_seed(0)
            net_g, net_d = examples_dcgan()
            opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
            opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
            loader = DataLoader(dataset, batch_size=batch, shuffle=True)
            if warmup:
                loader = [next(iter(loader))]
            examples_dcgan_epoch(net_g, net_d, opt_g, opt_d, loader)

        return run

    def coursekit(warmup: bool):
        generator, discriminator = dcgan.build(size=64, channels=3, seed=0)
        opt_g, opt_d = dcgan.optimizers(generator, discriminator)
        loader = DataLoader(TensorDataset(images), batch_size=batch, shuffle=True)
        steps = 1 if warmup else len(loader)
        step = gan_step(generator, discriminator, opt_g, opt_d, z_dim=dcgan.Z_DIM)
        fit(step, loader, steps, progress=False, seed=0)

    return {
        "examples loop, torchvision dataset": examples(examples_data),
        "examples loop, tensor data": examples(tensor_data),
        "coursekit fit + gan_step": coursekit,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vae-images", type=int, default=12_800, help="images in the VAE epoch (batch 128)")
    parser.add_argument("--dcgan-images", type=int, default=640, help="images in the DCGAN epoch (batch 64)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: stable on a shared machine)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="epochs per variant; the best is kept")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores, best of {args.repeats}"
    )
    models = [
        ("VAE 784-400-20, batch 128", args.vae_images, vae_runs(args.vae_images)),
        ("DCGAN 64x64, batch 64", args.dcgan_images, dcgan_runs(args.dcgan_images)),
    ]
    print("| model | loop | images | s / epoch | images/s | coursekit speed vs this |")
    print("|---|---|---|---|---|---|")
    for model, n_images, runs in models:
        times = best_time(runs, args.repeats)
        ours = times[next(name for name in times if name.startswith("coursekit"))]
        for name, seconds in times.items():
            ratio = seconds / ours
            rate = n_images / seconds
            print(f"| {model} | {name} | {n_images:,} | {seconds:.2f} | {rate:,.0f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
