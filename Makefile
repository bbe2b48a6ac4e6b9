# modgate developer commands. `make up` and `make test` are the two commands README.md
# gives a new user; both set up the virtual environment first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= cpu,train,dev,triton
STAMP := $(VENV)/.installed-$(EXTRAS)
# A real Triton server for tests and local runs: the binary inside nvidia-pytriton, in its
# own venv (it pins numpy < 2), with the onnxruntime and tokenizers versions modgate uses.
TRITON_VENV ?= .venv-triton
TRITON_STAMP := $(TRITON_VENV)/.installed
# Off-the-shelf peers for `make bench-peers` (hatesonar, alt-profanity-check): their own venv,
# since alt-profanity-check pins scikit-learn and joblib; onnx/onnxruntime as in .venv.
PEERS_VENV ?= .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed
EVAL_LABELS := --label toxicity=toxicity --label insult=insult --label threat=threat \
  --label hate=hate --label sexual=sexual --label self_harm=self_harm

.PHONY: previous-text setup triton-setup peers-setup bench-cpu bench-load bench-peers readme up serve test lint typecheck unit integration bench bench-text bench-text-loso bench-slowpath bench-chaos bench-images bench-triton train-spam train-text clean

$(STAMP): pyproject.toml constraints.txt $(wildcard proto/*.proto)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install modgate with the cpu, train, dev and triton extras

$(TRITON_STAMP): $(STAMP)
	test -x $(TRITON_VENV)/bin/python || $(PYTHON) -m venv $(TRITON_VENV)
	$(TRITON_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TRITON_VENV)/bin/python -m pip install --quiet "nvidia-pytriton==0.7.0" "numpy<2" \
	  "onnxruntime==$$($(BIN)/python -c 'import onnxruntime; print(onnxruntime.__version__)')" \
	  "tokenizers==$$($(BIN)/python -c 'import tokenizers; print(tokenizers.__version__)')"
	$(BIN)/python -c "from modgate.embedded_triton import TritonInstall; print(TritonInstall.find().binary)"
	touch $(TRITON_STAMP)

triton-setup: $(TRITON_STAMP)  ## install the Triton server binary (nvidia-pytriton) into .venv-triton

$(PEERS_STAMP): $(STAMP)
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet "alt-profanity-check==1.9.1" "hatesonar==0.1.0" \
	  "onnx==$$($(BIN)/python -c 'import onnx; print(onnx.__version__)')" \
	  "onnxruntime==$$($(BIN)/python -c 'import onnxruntime; print(onnxruntime.__version__)')"
	touch $(PEERS_STAMP)

peers-setup: $(PEERS_STAMP)  ## install the peer models (hatesonar, alt-profanity-check) into .venv-peers

up: $(STAMP)  ## run everything on one machine: broker :9092, redis :6379, gateway :50051, worker
	$(BIN)/modgate up

serve: $(STAMP)  ## run the gateway alone on its embedded defaults (127.0.0.1:50051)
	$(BIN)/modgate serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck $(TRITON_STAMP)  ## lint, type-check, then every test (unit + integration + e2e)
	$(BIN)/python -m pytest tests

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

bench: $(STAMP)  ## micro-benchmarks; figures land in bench/results/
	$(BIN)/python -m bench.micro

# The text model shipped before v2 (dynamic int8, toxicity + hate), taken from git history
# for side-by-side benchmarks: `make previous-text` writes it to build/previous-text/.
PREVIOUS_TEXT_REV ?= 562e88c
previous-text:
	mkdir -p build/previous-text
	for f in model.onnx tokenizer.json metadata.json; do \
	  git show $(PREVIOUS_TEXT_REV):models/artifacts/text/$$f > build/previous-text/$$f; done

bench-text: $(STAMP) previous-text  ## text model: modgate ONNX (int8, fp32) vs the previous model vs PyTorch
	$(BIN)/python -m bench.text_latency

bench-text-loso: $(STAMP)  ## text model: leave-one-source-out and 6 vs 12 layers (~35 min on 2 cores)
	$(BIN)/python -m bench.text_loso --scale 0.1 --capacity

bench-slowpath: $(STAMP)  ## slow path: deferred posts/s to the queue, queue claim/decide latency
	$(BIN)/python -m bench.slowpath

bench-chaos: $(STAMP)  ## chaos: broker kill -9, Redis frozen, worker kill -9 at 40 posts/s, ledger on vs off (~8 min)
	$(BIN)/python -m bench.chaos

bench-images: $(STAMP)  ## images: decode, NSFW, ViT-tiny, OCR, PDQ; image posts under load, OCR on/off
	$(BIN)/python -m bench.images

bench-cpu: $(STAMP) $(PEERS_STAMP)  ## every CPU result in one command (~12 min): load, micro, peers, held-out quality, README sections
	$(BIN)/modgate bench load
	$(BIN)/python -m bench.micro
	$(BIN)/python -m bench.peers
	$(BIN)/python -m bench.heldout
	$(BIN)/modgate eval build/heldout/text-test.jsonl $(EVAL_LABELS) \
	  --language-column language --functionality-column functionality --identity-column target \
	  --by source --out bench/results --name quality-heldout > /dev/null
	$(BIN)/modgate eval build/heldout/text-eval-only.jsonl \
	  --label toxicity=toxicity --label insult=insult --label hate=hate \
	  --by source --out bench/results --name quality-eval-only > /dev/null
	$(BIN)/modgate bench readme

bench-load: $(STAMP)  ## open-loop load on a gateway process: text+spam at 100/s, sweep, highest rate, 3x spike
	$(BIN)/modgate bench load

bench-peers: $(PEERS_STAMP)  ## modgate int8/fp32 vs PyTorch vs hatesonar vs alt-profanity-check: quality + latency
	$(BIN)/python -m bench.peers

bench-triton: $(TRITON_STAMP)  ## gateway in-process vs gateway -> Triton at concurrency 1/8/64; where to tokenize
	$(BIN)/python -m bench.triton

readme: $(STAMP)  ## regenerate README.md's Performance and Quality sections from bench/results/
	$(BIN)/modgate bench readme

train-spam: $(STAMP)
	$(BIN)/modgate train spam

train-text: $(STAMP)  ## reproduce models/artifacts/text (about 45 min training + 25 min evaluation on 2 CPU cores)
	$(BIN)/modgate train text --checkpoint build/text-checkpoint

clean:
	rm -rf $(VENV) $(TRITON_VENV) $(PEERS_VENV) .pytest_cache .mypy_cache .ruff_cache .benchmarks
