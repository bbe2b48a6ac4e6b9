# modgate developer commands. `make up` and `make test` are the two commands README.md
# gives a new user; both set up the virtual environment first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= cpu,train,dev
STAMP := $(VENV)/.installed-$(EXTRAS)

.PHONY: setup up serve test lint typecheck unit integration bench bench-text bench-slowpath bench-images train-spam train-text clean

$(STAMP): pyproject.toml constraints.txt $(wildcard proto/*.proto)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install modgate with the cpu, train and dev extras

up: $(STAMP)  ## run everything on one machine: broker :9092, redis :6379, gateway :50051, worker
	$(BIN)/modgate up

serve: $(STAMP)  ## run the gateway alone on its embedded defaults (127.0.0.1:50051)
	$(BIN)/modgate serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck  ## lint, type-check, then every test (unit + integration + e2e)
	$(BIN)/python -m pytest tests

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

bench: $(STAMP)  ## micro-benchmarks; figures land in bench/results/
	$(BIN)/python -m bench.micro

bench-text: $(STAMP)  ## text model: modgate ONNX (int8, fp32) vs PyTorch, side by side
	$(BIN)/python -m bench.text_latency

bench-slowpath: $(STAMP)  ## slow path: deferred posts/s to the queue, queue claim/decide latency
	$(BIN)/python -m bench.slowpath

bench-images: $(STAMP)  ## images: decode, NSFW, ViT-tiny, OCR, PDQ; image posts under load, OCR on/off
	$(BIN)/python -m bench.images

train-spam: $(STAMP)
	$(BIN)/modgate train spam

train-text: $(STAMP)  ## reproduce models/artifacts/text (about 20 min on 2 CPU cores)
	$(BIN)/modgate train text --checkpoint build/text-checkpoint

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .benchmarks
