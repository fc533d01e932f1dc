"""A larger CNN that only teaches LeNet-5 (knowledge distillation); it is never shipped.

    python -m training.lenet5 --arch teacher --epochs 20 --outliers 0 \
        --checkpoint runs/teacher/last.pt

LeNet-5 then learns from the teacher's softened outputs besides the labels (Hinton et al.
2015, `python -m training.lenet5 ... --teacher runs/teacher/last.pt`): the teacher's
probabilities say which digits a glyph resembles, more than a one-hot label can.
"""

from pathlib import Path

import torch
from torch import nn


def _block(inputs: int, outputs: int) -> list[nn.Module]:
    return [
        nn.Conv2d(inputs, outputs, 3, padding=1, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU(),
    ]


class DigitTeacher(nn.Module):
    """VGG-style: 3x3 convolutions 32-64-64-128-128 with three 2x2 max-pools, FC 256
    (about 0.8M parameters, seven times LeNet-5's)."""

    def __init__(self, outputs: int = 10) -> None:
        super().__init__()
        # fmt: off
        self.features = nn.Sequential(
            *_block(1, 32), nn.MaxPool2d(2),  # 32 -> 16
            *_block(32, 64), *_block(64, 64), nn.MaxPool2d(2),  # 16 -> 8
            *_block(64, 128), *_block(128, 128), nn.MaxPool2d(2),  # 8 -> 4
        )
        # fmt: on
        self.classifier = nn.Sequential(
            nn.Flatten(),  # N x 128 x 4 x 4 -> N x 2048
            nn.Dropout(0.3),
            nn.Linear(128 * 4 * 4, 256),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(256, outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N x 1 x 32 x 32 normalised -> N x 10 logits."""
        return self.classifier(self.features(x))


def load_teacher(path: Path, device: str) -> DigitTeacher:
    """A trained teacher from its run's checkpoint, frozen, in eval mode."""
    teacher = DigitTeacher()
    teacher.load_state_dict(torch.load(path, map_location=device, weights_only=False)["model"])
    teacher.to(device).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher
