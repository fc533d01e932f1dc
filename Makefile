# Two commands do all set-up: `make run` serves on the shipped models, `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 0.0.0.0
PORT ?= 8000

.PHONY: run test lint format audit bench load eval eval-lines robustness bench-lines train-lenet5 \
	train-pairs train-chains train-crnn train-direction lm docker-up docker-down clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,train]'
	touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps  ## serve on the shipped models at http://$(HOST):$(PORT)
	$(BIN)/python -m uvicorn app.main:app --host $(HOST) --port $(PORT)

test: $(VENV)/.dev-deps  ## lint, then the whole test suite (container test included)
	$(BIN)/ruff check app training tests bench tools
	$(BIN)/ruff format --check app training tests bench tools
	$(BIN)/python -m pytest

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check app training tests bench tools

format: $(VENV)/.dev-deps
	$(BIN)/ruff format app training tests bench tools
	$(BIN)/ruff check --fix app training tests bench tools

audit: $(VENV)/.dev-deps  ## known vulnerabilities in the installed packages (skipped when offline)
	$(BIN)/python -m tools.audit $(AUDIT_ARGS)

bench: $(VENV)/.dev-deps  ## throughput of /digits against a bare upload endpoint
	$(BIN)/python bench/bench_digits.py --rounds 3

load: $(VENV)/.dev-deps  ## 64 clients for 60 s, then a 100,000-request soak with the server's RSS
	$(BIN)/python bench/load.py

eval: $(VENV)/.dev-deps  ## exact-string accuracy of /digits on images built from MNIST t10k
	$(BIN)/python bench/eval_digits.py --count 1000

eval-lines: $(VENV)/.dev-deps  ## CER of /lines on 4 held-out sets of 300 lines
	$(BIN)/python bench/eval_lines.py --count 300

robustness: $(VENV)/.dev-deps  ## /digits and /lines on the same images photographed differently
	$(BIN)/python bench/robustness.py digits --count 200
	$(BIN)/python bench/robustness.py lines --count 60

bench-lines: $(VENV)/.dev-deps  ## CRNN latency: one line, a batch of 16, one POST /lines
	$(BIN)/python bench/bench_lines.py

# A base run, then a fine-tune with the pieces the service's segmenter cuts from touching digits.
train-lenet5: $(VENV)/.dev-deps
	$(BIN)/python -m training.lenet5 --epochs 60 --seed 2 --width 2 --blur-share 0.1 \
		--out runs/long60/ --checkpoint runs/long60/last.pt
	$(BIN)/python -m training.lenet5 --epochs 8 --lr 1e-3 --seed 1 --width 2 --pieces 10000 \
		--blur-share 0.1 --init runs/long60/last.pt --checkpoint runs/plong/last.pt --out models/

# The pair reader for touching digits: pieces the segmenter cuts from 15,000 touching rows.
train-pairs: $(VENV)/.dev-deps
	$(BIN)/python -m training.pairs --rows 15000 --epochs 10 --seed 1 --out models/ \
		--checkpoint runs/pairs/last.pt

# The chain reader for blobs of touching digits: a small CTC model (about 75 min on 2 cores).
train-chains: $(VENV)/.dev-deps
	$(BIN)/python -m training.chains --rows 60000 --epochs 5 --seed 11 --out models/ \
		--checkpoint runs/chains/last.pt

lm: $(VENV)/.dev-deps  ## count the character n-gram model of /lines beam search
	$(BIN)/python -m training.lines.lm --out models/

# Eight stages on 2 CPU cores (about 7.6 h in all); needs the Debian fonts named by the script.
train-crnn: $(VENV)/.dev-deps
	$(BIN)/python -m training.crnn --lines 20000 --epochs 3 --hidden 128 --channels 128 \
		--eval-lines 200 --checkpoint runs/crnn_slim/last.pt --out runs/crnn_slim/
	$(BIN)/python -m training.crnn --lines 100000 --seed 2 --epochs 2 --hidden 128 \
		--channels 128 --init runs/crnn_slim/last.pt --checkpoint runs/crnn_main/last.pt \
		--eval-lines 300 --out runs/crnn_main/
	$(BIN)/python -m training.crnn --lines 150000 --seed 3 --epochs 1 --lr 5e-4 --hidden 128 \
		--channels 128 --init runs/crnn_main/last.pt --checkpoint runs/crnn_stage3/last.pt \
		--eval-lines 300 --save-every 200 --out runs/crnn_stage3/
	$(BIN)/python -m training.crnn --lines 150000 --seed 4 --epochs 1 --lr 4e-4 --hidden 128 \
		--channels 128 --init runs/crnn_stage3/last.pt --checkpoint runs/crnn_stage4/last.pt \
		--eval-lines 300 --save-every 200 --out runs/crnn_stage4/
	$(BIN)/python -m training.crnn --lines 150000 --seed 5 --epochs 1 --lr 3e-4 --fonts extended \
		--hidden 128 --channels 128 --init runs/crnn_stage4/last.pt \
		--checkpoint runs/crnn_stage5/last.pt --eval-lines 300 --save-every 200 --out runs/crnn_stage5/
	$(BIN)/python -m training.crnn --lines 120000 --seed 6 --epochs 1 --lr 3e-4 --fonts extended \
		--hidden 128 --channels 128 --init runs/crnn_stage5/last.pt \
		--checkpoint runs/crnn_stage6/last.pt --eval-lines 300 --save-every 200 --out runs/crnn_stage6/
	$(BIN)/python -m training.crnn --lines 120000 --seed 7 --epochs 1 --lr 3e-4 --fonts extended \
		--faults 0.3 --hidden 128 --channels 128 --init runs/crnn_stage6/last.pt \
		--checkpoint runs/crnn_stage7/last.pt --eval-lines 300 --save-every 200 --out runs/crnn_stage7/
	$(BIN)/python -m training.crnn --lines 120000 --seed 8 --epochs 1 --lr 3e-4 --fonts extended \
		--faults 0.3 --ruled 0.25 --hidden 128 --channels 128 --init runs/crnn_stage7/last.pt \
		--checkpoint runs/crnn_stage8/last.pt --eval-lines 300 --save-every 200 --out models/

# The direction classifier of /lines, on the last CRNN stage's lines (cached by train-crnn).
train-direction: $(VENV)/.dev-deps
	$(BIN)/python -m training.direction --lines 120000 --seed 8 --fonts extended --faults 0.3 \
		--ruled 0.25 --epochs 3 --checkpoint runs/direction/last.pt --out models/

docker-up:
	docker compose up -d --build --wait

docker-down:
	docker compose down

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
