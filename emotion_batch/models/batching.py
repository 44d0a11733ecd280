"""Run a network over a variable number of inputs in a small, fixed set of batch shapes.

Why it matters on the CPU: PyTorch runs convolutions through oneDNN, which builds and caches
a kernel ("primitive", ~0.5 MB each) for every distinct input shape it sees. MTCNN's R-Net and
O-Net get a different number of candidates on every chunk (900-1,900 per 32 frames of a
320x240 test video), so a long video kept creating primitives: R-Net alone on 400 random batch
sizes grew RSS by 650 MB (one of the two reasons a 30-minute video peaked 20 % above a
3-minute one; the other was decord, see media.iter_frames). In batches
of `size` with the remainder padded up to the next power of two, a net sees at most
log2(size) + 1 shapes: the same 400 calls grew RSS by 40-46 MB. Batches of 64 were also faster
than one big batch here (R-Net 75 vs 140 us per crop, O-Net 415 vs 745: they fit the cache).

What still varies (P-Net per video resolution, explanation batches) is bounded by the
package capping the primitive cache at 256 kernels on import (emotion_batch/__init__.py).
"""

from __future__ import annotations

import torch

CPU_BATCH = 64
GPU_BATCH = 512  # a GPU wants wide batches; the shape set stays just as small


def batch_size(device: torch.device | str) -> int:
    return CPU_BATCH if torch.device(device).type == "cpu" else GPU_BATCH


def padded_size(n: int, size: int) -> int:
    """The batch shape used for a remainder of n < size inputs: the next power of two."""
    return min(size, 1 << max(0, n - 1).bit_length())


def run_batched(net, x: torch.Tensor, size: int | None = None):
    """net(x) computed in batches of `size` (default by device); a remainder is zero-padded to
    `padded_size` and the padding dropped. Returns what `net` returns (a tensor or a tuple of
    tensors), concatenated along the batch."""
    size = size or batch_size(x.device)
    outs = []
    for i in range(0, max(len(x), 1), size):
        part = x[i : i + size]
        k = len(part)  # 0 only for an empty x: one padded input gives the outputs' shapes
        shape = size if k == size else padded_size(k, size)
        if shape > k:
            part = torch.cat([part, part.new_zeros((shape - k, *part.shape[1:]))])
        y = net(part)
        outs.append(tuple(t[:k] for t in y) if isinstance(y, tuple) else y[:k])
    if isinstance(outs[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*outs))
    return torch.cat(outs)

