"""Batch augmentation on 32 x 32 digits in torch: affine, elastic, stroke width, binarisation,
out-of-focus blur."""

import math

import torch
import torch.nn.functional as F


def _gaussian_kernel(sigma: float, device: torch.device) -> torch.Tensor:
    radius = math.ceil(3 * sigma)
    x = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


def _smooth(field: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of N x C x H x W."""
    k = _gaussian_kernel(sigma, field.device)
    c = field.shape[1]
    pad = k.numel() // 2
    field = F.conv2d(
        F.pad(field, (pad, pad, 0, 0), mode="reflect"),
        k.view(1, 1, 1, -1).repeat(c, 1, 1, 1),
        groups=c,
    )
    return F.conv2d(
        F.pad(field, (0, 0, pad, pad), mode="reflect"),
        k.view(1, 1, -1, 1).repeat(c, 1, 1, 1),
        groups=c,
    )


def distort(x: torch.Tensor, gen: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """N x 1 x H x W in [0, 1] -> randomly rotated, scaled, slanted, elastically warped copy."""
    n, _, h, w = x.shape
    dev = x.device

    def u(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(n, generator=gen, device=dev) * (hi - lo) + lo

    angle = u(-12, 12) * strength * math.pi / 180
    scale_x, scale_y = u(0.85, 1.15), u(0.85, 1.15)
    shear = u(-0.35, 0.35) * strength  # handwriting slant
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0] = cos / scale_x
    theta[:, 0, 1] = (-sin + shear) / scale_x
    theta[:, 1, 0] = sin / scale_y
    theta[:, 1, 1] = cos / scale_y
    theta[:, 0, 2] = u(-0.08, 0.08)
    theta[:, 1, 2] = u(-0.08, 0.08)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Elastic warp (Simard et al. 2003): a smoothed random displacement field.
    noise = torch.rand(n, 2, h, w, generator=gen, device=dev) * 2 - 1
    disp = _smooth(noise, sigma=4.0) * (2.2 * strength)  # N x 2 x H x W, in grid units
    grid = grid + disp.permute(0, 2, 3, 1) * (2.0 / h)  # -> N x H x W x 2
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def vary_strokes(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Thicker or thinner pens, and hard-thresholded ink as a binarised scan would give."""
    n = x.shape[0]
    dev = x.device
    thick = F.max_pool2d(x, 3, 1, 1)
    thin = -F.max_pool2d(-x, 3, 1, 1)
    a = torch.rand(n, 1, 1, 1, generator=gen, device=dev)
    pick = torch.rand(n, 1, 1, 1, generator=gen, device=dev)
    x = torch.where(pick < 0.35, x + a * (thick - x), x)
    x = torch.where(pick > 0.9, x + 0.4 * a * (thin - x), x)
    hard = torch.rand(n, 1, 1, 1, generator=gen, device=dev) < 0.2
    level = 0.25 + 0.4 * torch.rand(n, 1, 1, 1, generator=gen, device=dev)
    return torch.where(hard, (x > level).float(), x)


# Out-of-focus photos: a Gaussian blur of this many pixels of the 32 x 32 digit (a digit 20
# px tall here; the service reads digits 24-72 px tall, blurred by up to ~2 px there).
BLUR_SIGMAS = (0.6, 0.9, 1.2, 1.5)
# The blur's faint skirt below this strength is cut, as the service's ink mask cuts it.
BLUR_FLOOR = 0.1


def blur(x: torch.Tensor, gen: torch.Generator, share: float) -> torch.Tensor:
    """N x 1 x H x W in [0, 1] -> `share` of the digits blurred (sigma from BLUR_SIGMAS),
    brought back to full strength, their faintest skirt cut."""
    n = x.shape[0]
    pick = torch.rand(n, generator=gen, device=x.device) < share
    which = torch.randint(len(BLUR_SIGMAS), (n,), generator=gen, device=x.device)
    out = x.clone()
    for k, sigma in enumerate(BLUR_SIGMAS):
        idx = torch.nonzero(pick & (which == k)).flatten()
        if idx.numel() == 0:
            continue
        soft = _smooth(x[idx], sigma)
        soft = soft / soft.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
        out[idx] = torch.where(soft < BLUR_FLOOR, torch.zeros_like(soft), soft)
    return out
