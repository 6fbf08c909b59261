# smbgate: the one entry point. Wraps CMake; run as root on Debian 12 (`make deps` uses apt-get).
#   make check      deps, format-check, build, asan, unit, fuzz, alloc-fail, integration (CI)
#   make demo       a throwaway Samba on 127.0.0.1 and a few smbgate commands against it
#   make bench      smbgate against smbclient, smbget and rclone on the same Samba
#   make bench-load 50 SFTP sessions x 60 s of mixed operations through serve sftp

SHELL := /bin/bash
MAKEFLAGS += --no-print-directory
PY := /usr/bin/python3
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 10
CMAKE_FLAGS ?=

# Everything the build, the tests, the demo and the benchmarks need.
DEPS := build-essential cmake pkg-config clang libclang-rt-14-dev clang-format \
	libssl-dev libssh-dev libjson-c-dev libcmocka-dev \
	samba smbclient samba-common-bin \
	python3 python3-pytest python3-pytest-timeout python3-paramiko python3-impacket \
	openssh-server openssh-client openssh-sftp-server sshpass rclone curl procps iproute2 \
	hyperfine time sshfs fuse3 haproxy scdoc libmicrohttpd-dev python3-prometheus-client

FORMAT_DIRS := src include tests/unit tests/fuzz

# Sanitizer settings for everything run from an ASan+UBSan build.
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all deps build asan fuzz-build fuzz unit integration check format format-check demo \
	bench bench-load alloc-fail clean

all: build

deps:
	@scripts/deps.sh $(DEPS)

build:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	cmake --build build -j$(JOBS)

asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMBGATE_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build build-asan -j$(JOBS)

fuzz-build:
	cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
		-DSMBGATE_FUZZ=ON $(CMAKE_FLAGS)
	cmake --build build-fuzz -j$(JOBS)

fuzz: fuzz-build
	scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

unit: build asan
	ctest --test-dir build --output-on-failure -j$(JOBS)
	$(SAN_ENV) ctest --test-dir build-asan --output-on-failure -j$(JOBS)

# The allocation-failure sweep (unit test test_alloc_fail) again over the corpora `make fuzz`
# grew in build-fuzz/ (about 1,500 inputs, a few seconds); over the seeds when there are none.
alloc-fail: asan
	corpus=build-fuzz/fuzz-corpus; [ -d $$corpus ] || corpus=tests/fuzz/corpus; \
	$(SAN_ENV) build-asan/test_alloc_fail $$corpus

# SMBGATE_REQUIRE_BIN=1: a missing binary fails the tests instead of skipping them.
integration: build asan
	SMBGATE_BIN=$(CURDIR)/build/smbgate SMBGATE_REQUIRE_BIN=1 \
		$(PY) -m pytest -q tests/integration
	$(SAN_ENV) SMBGATE_BIN=$(CURDIR)/build-asan/smbgate SMBGATE_REQUIRE_BIN=1 \
		$(PY) -m pytest -q tests/integration

# Sequential on purpose (also under make -j): each step needs the one before.
check:
	$(MAKE) deps
	$(MAKE) format-check
	$(MAKE) build
	$(MAKE) asan
	$(MAKE) unit
	$(MAKE) fuzz
	$(MAKE) alloc-fail
	$(MAKE) integration
	@echo "check: all passed"

format:
	find $(FORMAT_DIRS) -name '*.[ch]' -print0 2>/dev/null | xargs -0 -r clang-format -i

format-check:
	find $(FORMAT_DIRS) -name '*.[ch]' -print0 2>/dev/null | \
		xargs -0 -r clang-format --dry-run -Werror
	@echo "format-check: ok"

demo: deps build
	scripts/demo.sh build/smbgate

bench: build
	$(PY) bench/run.py

bench-load: build
	$(PY) bench/load.py

clean:
	rm -rf build build-asan build-fuzz
