"""`make demo`: until a forecasting model lands, demonstrate the diffusion core on a 2-D Gaussian mixture."""
from __future__ import annotations

import torch
from torch import nn

from tsdiff.diffusion import GaussianDiffusion, NoiseSchedule
from tsdiff.nn import DiffusionStepEmbedding


def main() -> None:
    torch.manual_seed(0)
    centres = torch.tensor([[-2.0, -1.0], [2.0, 1.5]])
    diffusion = GaussianDiffusion(NoiseSchedule("cosine", 100))

    class Denoiser(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = DiffusionStepEmbedding(100, 32, 128)
            self.inp, self.out = nn.Linear(2, 128), nn.Linear(128, 2)
            self.body = nn.Sequential(nn.SiLU(), nn.Linear(128, 128), nn.SiLU())

        def forward(self, x, t, cond=None):
            return self.out(self.body(self.inp(x) + self.embed(t)))

    model = Denoiser()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for step in range(1000):
        x0 = centres[torch.randint(0, 2, (256,))] + 0.4 * torch.randn(256, 2)
        loss = diffusion.training_loss(model, x0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = diffusion.sample(model, (2000, 2), sampler="ddim", num_steps=20)
    print(f"final loss {loss.item():.3f}; sample mean {x.mean(0).tolist()}")


if __name__ == "__main__":
    main()
