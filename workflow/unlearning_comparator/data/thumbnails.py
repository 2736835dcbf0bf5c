"""Thumbnails of the evaluation subset, written once per experiment as one sprite sheet (PNG)."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image


def sprite_sheet(images: torch.Tensor, columns: int) -> tuple[bytes, int, int]:
    """Tile uint8 (N, C, H, W) images row-major into one PNG; returns (png bytes, rows, columns)."""
    n, c, h, w = images.shape
    rows = -(-n // columns)
    arr = images.cpu().numpy()
    sheet = np.zeros((rows * h, columns * w, c), dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        sheet[r * h : (r + 1) * h, col * w : (col + 1) * w] = arr[i].transpose(1, 2, 0)
    mode = "L" if c == 1 else "RGB"
    image = Image.fromarray(sheet[..., 0] if c == 1 else sheet, mode=mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue(), rows, columns
