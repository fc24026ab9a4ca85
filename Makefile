# pipe: two commands for a fresh Debian machine.
#   make demo   installs what is missing, builds, and runs the main recipe
#   make test   installs what is missing, builds, and runs the tests
SWIFT ?= swift
DEMO_RECIPE ?= recipes/at-grpo.yaml

.PHONY: deps build build-debug demo test docs bench bench-snakemake fuzz report-screenshot clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product pipe
	@bash scripts/build-info.sh .build/release/pipe

# The report tests parse the HTML with FoundationXML, which links libxml2; the remote-cache tests
# run a real nginx (WebDAV) and SeaweedFS (S3, from PyPI into .build/pyenv) on loopback, over http
# and over https with certificates the tests make with `openssl`, and the
# Slurm executor tests a single-node Slurm cluster (munged, slurmctld, slurmd), all started and
# stopped by the tests themselves.
build-debug:
	@bash scripts/install-deps.sh libxml2 nginx curl openssl slurm-wlm munge
	$(SWIFT) build --build-tests
	@bash scripts/build-info.sh .build/debug/pipe

demo: build
	.build/release/pipe run $(DEMO_RECIPE)

# Some tests check pipe's files with reference readers from PyPI (safetensors), in .build/pyenv.
# The torch backend's tests (python/tests, pytest) run in .build/torchenv, the locked environment.
# The Python environments are made while the build runs (one is mostly downloads, the other compiles).
test:
	@bash scripts/install-deps.sh libxml2 nginx curl openssl slurm-wlm munge
	@mkdir -p .build; \
	  { bash scripts/python-env.sh && bash scripts/torch-env.sh; } > .build/python-envs.log 2>&1 & envs=$$!; \
	  $(MAKE) --no-print-directory build-debug || { kill $$envs 2>/dev/null; exit 1; }; \
	  wait $$envs || { cat .build/python-envs.log; echo "error: the Python environments could not be made (log above)" >&2; exit 1; }
	$(SWIFT) test --skip-build
	.build/torchenv/bin/python -m pytest -q -p no:cacheprovider python/tests

# The generated sections of docs/kinds/*.md (options tables, inputs, outputs), from the kinds' declarations.
docs:
	$(SWIFT) build --product pipe
	.build/debug/pipe kinds --write-docs docs/kinds

# bsdtar (libarchive-tools) is the floor the dataset benchmark compares unpack with.
bench: build
	@bash scripts/install-deps.sh libarchive-tools
	python3 bench/engine.py --pipe .build/release/pipe
	python3 bench/engine.py --pipe .build/release/pipe --workdir /dev/shm
	python3 bench/datasets.py --pipe .build/release/pipe
	@bash scripts/install-deps.sh nginx curl openssl
	python3 bench/remote.py --pipe .build/release/pipe
	@bash scripts/torch-env.sh
	python3 bench/torch.py --pipe .build/release/pipe
	$(SWIFT) build -c release --product pipe-training-bench
	.build/release/pipe-training-bench

# Snakemake side by side, installed from PyPI into a throwaway venv.
bench-snakemake: build
	python3 -m venv bench/.venv && bench/.venv/bin/pip install -q "snakemake==9.*"
	python3 bench/snakemake_side_by_side.py --pipe .build/release/pipe --snakemake bench/.venv/bin/snakemake

# Coverage-guided fuzzing (libFuzzer + AddressSanitizer, in .build-fuzz) of the recipe reader, the QA
# JSON reader, the JPEG/PNG decoders and the cache's tree listings and action records: each for
# FUZZ_SECONDS (60) from its seeds in fuzz/corpus/; fails on a crash, a 10 s input, 2 GiB or a leak,
# leaving the input in .build-fuzz/findings/. Not part of `make test`.
fuzz: deps
	@bash scripts/fuzz.sh

# The latest run's report rendered to PNG with headless Chromium (when installed).
report-screenshot: build
	@rm -rf reports/latest && .build/release/pipe report latest --out reports/latest >/dev/null
	@bash scripts/report-screenshot.sh reports/latest/report.html

clean:
	rm -rf .build
