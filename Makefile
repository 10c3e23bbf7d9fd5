# Lazuli's two commands: `make demo` and `make test`. Each installs what it needs first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# Serialise builds: two heavy builds at once starve a 2-core machine.
LOCK := flock /tmp/lazuli-build.lock

.PHONY: all deps configure build demo tutorial test test-cpp bench bench-cpu test-gpu bench-gpu memcheck-gpu fuzz clean

all: build

deps:
	@bash scripts/install-deps

$(BUILD)/CMakeCache.txt:
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DPython_EXECUTABLE=$(CURDIR)/.venv/bin/python $(CMAKE_FLAGS) >/dev/null

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	@$(LOCK) cmake --build $(BUILD) -j $(JOBS)

# The demo trains a character-level transformer on data/shakespeare.txt for DEMO_SECONDS
# (on the GPU when there is one), saves it, reloads it and prints text it generates.
DEMO_SECONDS ?= 90
demo: build
	@PYTHONPATH=$(CURDIR)/$(BUILD)/python .venv/bin/python examples/python/train/transformer_lm.py \
	  --text data/shakespeare.txt --seconds $(DEMO_SECONDS) --weights $(BUILD)/demo_lm.safetensors \
	  --prompt "Rom." --generate 400

# The C++ tour of the API (examples/cpp/tutorial.cpp).
tutorial: build
	@$(BUILD)/tutorial

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@LAZULI_KERNEL_CACHE=$(CURDIR)/$(BUILD)/kernel-cache PYTHONPATH=$(CURDIR)/$(BUILD)/python \
	  .venv/bin/python -m pytest -q python/tests

bench: build
	@bash benchmarks/run_cpu.sh
	@PYTHONPATH=$(CURDIR)/$(BUILD)/python .venv/bin/python benchmarks/bench_python.py

# The CUDA build and its GPU tests, for a machine with a GPU (see scripts/test-gpu; on the
# lent GPU machine, carry .gpu-debs made by scripts/fetch-gpu-debs).
test-gpu:
	@bash scripts/test-gpu

# compute-sanitizer memcheck over the GPU suite, a test per process (scripts/memcheck-gpu).
memcheck-gpu:
	@bash scripts/memcheck-gpu

# GPU benchmarks against PyTorch on the same GPU (benchmarks/bench_gpu.py).
bench-gpu:
	@bash scripts/bench-gpu

# libFuzzer targets of the file-format parsers (fuzz/), built with clang in their own
# folder and each run for FUZZ_SECONDS; fails on any crash or sanitizer report.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
fuzz: deps
	@$(LOCK) cmake -S fuzz -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ >/dev/null
	@$(LOCK) cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh $(FUZZ_BUILD)

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)
