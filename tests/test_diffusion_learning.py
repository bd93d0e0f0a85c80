"""A small MLP trained with the core's loss learns a 2-D mixture of two Gaussians."""
import numpy as np
import torch
from torch import nn

from tsdiff.diffusion import GaussianDiffusion, NoiseSchedule
from tsdiff.nn import DiffusionStepEmbedding

CENTRES = torch.tensor([[-2.0, -1.0], [2.0, 1.5]])
WEIGHTS = torch.tensor([0.3, 0.7])
COMPONENT_STD = 0.4


def draw_mixture(n, gen):
    comp = torch.multinomial(WEIGHTS, n, replacement=True, generator=gen)
    return CENTRES[comp] + COMPONENT_STD * torch.randn(n, 2, generator=gen)


class MLPDenoiser(nn.Module):
    def __init__(self, num_diffusion_steps, width=128):
        super().__init__()
        self.embed = DiffusionStepEmbedding(num_diffusion_steps, dim=32, proj_dim=width)
        self.inp = nn.Linear(2, width)
        self.body = nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU())
        self.out = nn.Linear(width, 2)

    def forward(self, x, t, cond=None):
        return self.out(self.body(self.inp(x) + self.embed(t)))


def test_mlp_learns_gaussian_mixture():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    diffusion = GaussianDiffusion(NoiseSchedule("cosine", 100))
    model = MLPDenoiser(100)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(1500):
        loss = diffusion.training_loss(model, draw_mixture(256, gen), generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-200:]) < 0.6 * np.mean(losses[:10]), "training loss must fall"

    model.eval()
    x = diffusion.sample(model, (4000, 2), generator=torch.Generator().manual_seed(1))
    assert torch.isfinite(x).all()
    nearest = torch.cdist(x, CENTRES).argmin(dim=1)
    weights = torch.bincount(nearest, minlength=2).float() / len(x)
    np.testing.assert_allclose(weights.numpy(), WEIGHTS.numpy(), atol=0.05)
    for k in range(2):
        members = x[nearest == k]
        np.testing.assert_allclose(members.mean(0).numpy(), CENTRES[k].numpy(), atol=0.2)
        # samples concentrate near the centres, not smeared between them
        assert members.std(0).max().item() < 2 * COMPONENT_STD
