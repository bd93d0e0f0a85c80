"""Peak bytes of live tensors created by torch operations inside a block (a test tool, CPU or GPU alike).

``with PeakTensorBytes() as probe: ...; probe.peak`` counts every tensor an aten operation returns while the block
runs, by storage, until its last Python reference dies; inputs and parameters that existed before do not count.
It sees what a caching allocator or malloc adds on top, nor buffers an operator frees before returning.
"""
from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class PeakTensorBytes(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.live = {}  # storage data pointer -> [bytes, tensors referring to it]
        self.current = 0
        self.peak = 0

    def _release(self, key):
        entry = self.live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.live[key]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                key = storage.data_ptr()
                if key == 0:
                    continue
                entry = self.live.get(key)
                if entry is None:
                    entry = self.live[key] = [storage.nbytes(), 0]
                    self.current += entry[0]
                    self.peak = max(self.peak, self.current)
                entry[1] += 1
                weakref.finalize(t, self._release, key)
        return out
