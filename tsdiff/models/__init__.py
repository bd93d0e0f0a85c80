"""Models built on the shared diffusion core."""
