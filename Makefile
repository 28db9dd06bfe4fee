# The newcomer's entry point. Everything real lives in meson.build.
BUILD ?= build
MESON_SETUP = meson setup --fatal-meson-warnings

.PHONY: all deps test-deps run test asan fuzz bench format check-format lint clean demo

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	@scripts/deps.sh build
	$(MESON_SETUP) $(BUILD)

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test
	@# The official SDKs for the end-to-end tests (tests/e2e/package-lock.json).
	@[ -d tests/e2e/node_modules ] || (cd tests/e2e && npm ci --no-audit --no-fund)

# Builds, then runs every test (unit, integration, cross-checks).
test: test-deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	meson test -C $(BUILD) --print-errorlogs
	@scripts/test-summary $(BUILD)

# Serves on the embedded default (see README).
run: all
	scripts/run.sh $(BUILD)/vodgate

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
asan: test-deps
	@[ -f build-asan/build.ninja ] || $(MESON_SETUP) build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	ninja -C build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  meson test -C build-asan --print-errorlogs
	@scripts/test-summary build-asan

# libFuzzer targets (clang), then a short run of each over its corpus.
fuzz: test-deps
	@# not $(MESON_SETUP): meson warns about -fsanitize=fuzzer-no-link in project args, fatally
	@[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Dtests=disabled
	ninja -C build-fuzz
	scripts/fuzz.sh build-fuzz $${FUZZ_SECONDS:-30}

bench: all
	@scripts/deps.sh bench
	bench/run-all.sh $(BUILD)/vodgate

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	scripts/check-format.sh

lint:
	scripts/check-banned.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz

# serve + emulate on loopback, `vodgate upload` of a sample file, final state (scripts/demo.sh).
demo: all
	scripts/demo.sh $(BUILD)/vodgate
