"""Multi-device data parallelism through Lightning: TimeGrad with strategy="ddp" on 2 CPU processes (~1 min)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().parent / "ddp_timegrad.py"


@pytest.mark.slow
def test_timegrad_trains_with_ddp_on_two_cpu_processes(tmp_path):
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    for var in ("MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE"):  # a fresh process group
        env.pop(var, None)
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]  # both processes trained in one 2-process group
    assert ranks[0]["next_draw"] != ranks[1]["next_draw"]  # seeded alike, yet each rank drew its own windows
    assert ranks[0]["shape"] == [4, 6, 3] and ranks[0]["finite"]
    assert list(tmp_path.glob("checkpoints/*.ckpt"))  # rank 0 saved the (shared) weights
