"""Training-time augmentation applied to whole uint8 batches on their device (no per-sample Python)."""

from __future__ import annotations

import torch


def random_crop_flip(
    images: torch.Tensor, padding: int, hflip: bool, generator: torch.Generator
) -> torch.Tensor:
    """Random crop after zero padding (torchvision's RandomCrop(size, padding)) and an optional random flip.

    ``images`` is uint8 (B, C, H, W); random draws come from ``generator`` (a CPU generator, so the
    same seed gives the same augmentation on every device).
    """
    b, c, h, w = images.shape
    device = images.device
    out = images
    if padding > 0:
        padded = torch.nn.functional.pad(images, (padding, padding, padding, padding))
        dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(device)
        dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(device)
        rows = (dy[:, None] + torch.arange(h, device=device))[:, None, :, None]  # (B, 1, H, 1)
        cols = (dx[:, None] + torch.arange(w, device=device))[:, None, None, :]  # (B, 1, 1, W)
        batch = torch.arange(b, device=device)[:, None, None, None]
        chan = torch.arange(c, device=device)[None, :, None, None]
        out = padded[batch, chan, rows, cols]
    if hflip:
        flip = (torch.rand(b, generator=generator) < 0.5).to(device)
        out = torch.where(flip[:, None, None, None], out.flip(-1), out)
    return out
