# Serving image: runtime dependencies only (no torch), models baked in, non-root.
FROM python:3.11-slim

# The container runs with a read-only root file system (compose: read_only, tmpfs /tmp):
# no bytecode files at run time, and anything that wants a home directory gets the tmpfs.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    TMPDIR=/tmp

WORKDIR /srv

# The same package the README installs; dependencies first so code edits keep this layer.
COPY pyproject.toml README.md ./
COPY app ./app
# onnxruntime-gpu for the GPU variant (the `gpu` extra): it replaces the CPU build in place.
ARG ORT_PACKAGE=onnxruntime
RUN python3 -m pip install --no-cache-dir . \
    && if [ "$ORT_PACKAGE" = "onnxruntime-gpu" ]; then \
         python3 -m pip uninstall -y onnxruntime \
         && python3 -m pip install --no-cache-dir "onnxruntime-gpu>=1.18"; \
       fi \
    && useradd --system --uid 10001 --no-create-home hwr

COPY models ./models

USER 10001
EXPOSE 8000
ENV HWR_DIGITS_MODEL=/srv/models/lenet5.onnx

# Shell form on purpose: engines store it as CMD-SHELL, which every runtime handles alike.
# hadolint ignore=DL3025
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python3 -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2).status != 200)"

CMD ["python3", "-m", "uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "1"]
