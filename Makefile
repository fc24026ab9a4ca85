# pipe: two commands for a fresh Debian machine.
#   make demo   installs what is missing, builds, and runs the main recipe
#   make test   installs what is missing, builds, and runs the tests
SWIFT ?= swift
DEMO_RECIPE ?= recipes/demo.yaml

.PHONY: deps build build-debug demo test bench clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product pipe

build-debug: deps
	$(SWIFT) build --build-tests

demo: build
	.build/release/pipe run $(DEMO_RECIPE)

test: build-debug
	$(SWIFT) test --skip-build

bench: build
	python3 bench/engine.py --pipe .build/release/pipe

clean:
	rm -rf .build
