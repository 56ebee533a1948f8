# SPDX-License-Identifier: ISC
# `make` builds; `make run` and `make check` also install what is missing.

BUILD     ?= build
BUILD_SAN ?= build-san
BUILD_FUZZ ?= build-fuzz

.PHONY: all build deps deps-test run build-san build-fuzz check bench clean

all: build

build:
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD) --buildtype=debugoptimized >/dev/null
	ninja -C $(BUILD)

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

run: deps build
	@scripts/run.sh

build-san: deps-test
	@test -f $(BUILD_SAN)/build.ninja || meson setup $(BUILD_SAN) --buildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false -Dtests=enabled >/dev/null
	ninja -C $(BUILD_SAN)

build-fuzz: deps-test
	@test -f $(BUILD_FUZZ)/build.ninja || CC=clang meson setup $(BUILD_FUZZ) --buildtype=debug \
		-Db_lundef=false -Dfuzz=true >/dev/null
	ninja -C $(BUILD_FUZZ)

check: deps-test build-san build-fuzz
	@/usr/bin/python3 tests/run.py --build $(BUILD_SAN) --fuzz-build $(BUILD_FUZZ)

bench: deps-test build
	@bench/run.sh

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ)
