"""Handwriting recognition service."""

import os

# OpenCV reads this when a codec first runs; set before cv2 is imported anywhere so that
# its own decoder refuses images above our pixel limit too (defence in depth for bombs).
os.environ.setdefault(
    "OPENCV_IO_MAX_IMAGE_PIXELS", str(int(os.environ.get("HWR_MAX_PIXELS", 40_000_000)))
)
