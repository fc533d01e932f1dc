"""int8 dynamic quantisation of an exported ONNX model, metadata carried over.

    python -m training.quantize models/crnn.onnx models/crnn.int8.onnx

Weights of MatMul/Gemm/LSTM become int8 (activations are quantised on the fly); convolutions
stay float, where onnxruntime's int8 kernels are not faster on small inputs. Whether the
result ships is decided by bench/eval_lines.py on the held-out sets.
"""

import argparse
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic

from training.onnx_utils import add_metadata


def quantize(src: Path, dst: Path) -> None:
    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gemm", "LSTM"],
    )
    meta = {p.key: p.value for p in onnx.load(str(src)).metadata_props}
    add_metadata(dst, {**meta, "quantization": "int8-dynamic"})


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("src", type=Path)
    p.add_argument("dst", type=Path)
    args = p.parse_args(argv)
    quantize(args.src, args.dst)
    size = {p: p.stat().st_size / 1e6 for p in (args.src, args.dst)}
    print(f"{args.dst}: {size[args.dst]:.1f} MB (from {size[args.src]:.1f} MB)")


if __name__ == "__main__":
    main()
