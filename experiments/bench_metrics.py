"""Time tsdiff.evaluation.crps (and friends) on large inputs.

"Points" = target values; each point has S forecast samples.

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=. python experiments/bench_metrics.py
    ... --points 1000000 --samples 100 --dtype float32

Not part of the test suite (timing assertions are flaky on shared machines).
"""

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--points", type=int, nargs="+", default=[10_000, 1_000_000],
                   help="numbers of target values to score")
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--all", action="store_true", help="also time energy_crps, nd, coverage")
    args = p.parse_args()

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    from tsdiff.evaluation import coverage, crps, energy_crps, nd

    rng = np.random.default_rng(0)
    fns = {"crps": crps}
    if args.all:
        fns.update(energy_crps=energy_crps, nd=nd, coverage=coverage)
    for n in args.points:
        x = rng.standard_normal((args.samples, n)).astype(args.dtype)
        y = rng.standard_normal(n)
        for name, fn in fns.items():
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                fn(x, y)
                times.append(time.perf_counter() - t0)
            print(
                f"{name:12s} S={args.samples} points={n:>9,d} "
                f"({args.samples * n:,d} sample values, {args.dtype}): "
                f"best {min(times):.3f}s  median {np.median(times):.3f}s"
            )
        del x


if __name__ == "__main__":
    main()
