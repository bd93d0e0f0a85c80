"""Train TimeGrad with Lightning DDP on 2 CPU processes (gloo), then forecast on rank 0.

    python tests/ddp_timegrad.py OUT_DIR

``strategy="ddp"`` re-launches this script once per extra device (it needs a script entry point, which is why
``tests/test_ddp.py`` runs it in a subprocess). Every rank writes ``OUT_DIR/rank<r>.json`` with the world size it
trained in; rank 0 also records the shape and finiteness of its forecast samples.
"""
import json
import os
import sys

import numpy as np
import torch
from gluonts.dataset.common import ListDataset

from tsdiff.models.timegrad import TimeGradEstimator

D, P, T = 3, 6, 240


def main(out_dir: str) -> None:
    torch.set_num_threads(1)
    t = np.arange(T + P)
    target = np.stack([np.sin(2 * np.pi * (t + 3 * d) / 24) + 2 for d in range(D)])
    data = ListDataset([{"start": "2024-01-01", "target": target[:, :T]}], freq="h", one_dim_target=False)
    estimator = TimeGradEstimator(
        freq="h", prediction_length=P, target_dim=D, context_length=12, num_layers=1, hidden_size=8,
        residual_layers=2, residual_channels=4, num_diffusion_steps=10, batch_size=8, num_batches_per_epoch=4,
        seed=0,  # seeds every rank alike; the lightning module then gives each rank its own window stream
        trainer_kwargs=dict(accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, logger=False,
                            enable_progress_bar=False, enable_model_summary=False, default_root_dir=out_dir),
    )
    predictor = estimator.train(data)
    dist = torch.distributed
    world_size = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    rank = int(os.environ.get("LOCAL_RANK", "0"))
    # the next draw of numpy's stream: equal on both ranks iff they drew the same training windows
    record = {"rank": rank, "world_size": world_size, "next_draw": int(np.random.randint(0, 2**31 - 1))}
    if rank == 0:
        samples = next(iter(predictor.predict(data, num_samples=4, seed=0))).samples
        record.update(shape=list(samples.shape), finite=bool(np.isfinite(samples).all()))
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as fh:
        json.dump(record, fh)


if __name__ == "__main__":
    main(sys.argv[1])
