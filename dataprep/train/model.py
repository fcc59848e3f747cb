"""A compact UNet in plain torch.

Levels: `width * 2**i` channels for i in 0..depth; each level is a DoubleConv
(conv3x3 -> BatchNorm -> ReLU, twice). Convolutions followed by BatchNorm have
no bias: BN's shift would cancel it. Up-sampling is bilinear (cheaper, no
checkerboard artefacts) or a transposed convolution (learned). Any input size
works: the up path resizes to the skip connection's size, so sizes that are not
multiples of 2**depth need no padding by the caller.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DoubleConv(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class Down(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))


class Up(nn.Module):
    """Up-sample the deeper features, concatenate the skip connection, DoubleConv."""

    def __init__(self, deep_channels: int, skip_channels: int, out_channels: int, mode: str) -> None:
        super().__init__()
        self.mode = mode
        if mode == "transposed":
            self.up = nn.ConvTranspose2d(deep_channels, deep_channels // 2, kernel_size=2, stride=2)
            deep_channels //= 2
        elif mode != "bilinear":
            raise ValueError(f"up: must be 'bilinear' or 'transposed', got {mode!r}")
        self.conv = DoubleConv(deep_channels + skip_channels, out_channels)

    def forward(self, deep: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        size = skip.shape[-2:]
        if self.mode == "transposed":
            deep = self.up(deep)
            if deep.shape[-2:] != size:  # odd sizes: max-pooling floored, so pad back
                dh, dw = size[0] - deep.shape[-2], size[1] - deep.shape[-1]
                deep = F.pad(deep, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])
        else:
            deep = F.interpolate(deep, size=size, mode="bilinear", align_corners=False)
        return self.conv(torch.cat([skip, deep], dim=1))


def min_input_side(depth: int) -> int:
    """The smallest side a UNet of `depth` takes: it max-pools `depth` times, and a side below 2**depth reaches
    0 pixels on the way down (torch's "Output size is too small")."""
    return 2 ** depth


class UNet(nn.Module):
    """UNet(in_channels, num_classes, width=32, depth=4, up="bilinear") -> logits [B, num_classes, H, W]."""

    def __init__(self, in_channels: int, num_classes: int, *, width: int = 32, depth: int = 4, up: str = "bilinear") -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth: must be >= 1, got {depth}")
        self.in_channels, self.num_classes, self.width, self.depth, self.up_mode = in_channels, num_classes, width, depth, up
        channels = [width * 2**i for i in range(depth + 1)]
        self.stem = DoubleConv(in_channels, channels[0])
        self.downs = nn.ModuleList(Down(channels[i], channels[i + 1]) for i in range(depth))
        self.ups = nn.ModuleList(Up(channels[i + 1], channels[i], channels[i], up) for i in reversed(range(depth)))
        self.head = nn.Conv2d(channels[0], num_classes, kernel_size=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        # A head that starts near zero gives near-uniform predictions, so the
        # first loss is close to ln(num_classes) (the trainer's sanity check).
        nn.init.normal_(self.head.weight, std=1e-3)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.ups:
            x = up(x, skips.pop())
        return self.head(x)

    def extra_repr(self) -> str:
        return f"width={self.width}, depth={self.depth}, up={self.up_mode!r}"


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
