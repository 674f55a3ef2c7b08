# lscd — one GNU Makefile for the daemon, its tools, its tests and its campaigns.
#
#   make            build lscd, lscctl, apsim and the test helpers into build/
#   make check      install missing packages, then unit tests and end-to-end
#                   tests, each with a plain and an ASan/UBSan build, and a
#                   short fuzz pass
#   make unit       unit tests only (plain build)
#   make asan       unit tests built and run with -fsanitize=address,undefined
#   make e2e        end-to-end tests (pytest-3, inside a private network namespace)
#   make e2e-asan   the same against programs built with ASan/UBSan
#   make fuzz       every libFuzzer target for FUZZ_SECONDS each
#   make faults     CA outages, slow and broken CAs, SIGKILL storms (e2e)
#   make hostile    floods, fragment bombs, replays, unsolicited CSRs (e2e)
#   make valgrind   a provisioning run of lscd under valgrind
#   make demo       a real CA, lscd and a fleet of simulated APs on loopback
#   make bench      benchmarks (figures, never pass/fail)
#
# Sources are found by directory: capwap/*.c and pki/*.c become libraries,
# ctrl/*.c becomes lscd, tools/lscctl.c and tools/apsim/*.c become the tools,
# tests/unit/test_*.c one cmocka binary each, tests/fuzz/fuzz_*.c one fuzzer each.

BUILD     ?= build
SANITIZE  ?= 0
CC        ?= cc
FUZZ_CC   ?= clang
FUZZ_SECONDS ?= 60
PYTEST    ?= pytest-3

PKGS      := openssl libevent libcurl jansson sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN      := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wpointer-arith -Wstrict-prototypes
CFLAGS    ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(PKG_CFLAGS) -I. -MMD -MP
LDLIBS    = $(PKG_LIBS) -lm

ifeq ($(SANITIZE),1)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS    += -fsanitize=address,undefined
endif

CAPWAP_SRC := $(wildcard capwap/*.c)
PKI_SRC    := $(wildcard pki/*.c)
CTRL_SRC   := $(filter-out ctrl/main.c,$(wildcard ctrl/*.c))
APSIM_SRC  := $(wildcard tools/apsim/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
FAKE_SRC   := $(wildcard tests/fakes/*.c tests/drivers/*.c)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBCAPWAP := $(BUILD)/libcapwap.a
LIBPKI    := $(BUILD)/libpki.a
LIBCTRL   := $(BUILD)/libctrl.a

PROGRAMS  := $(BUILD)/lscd $(BUILD)/apsim $(if $(wildcard tools/lscctl.c),$(BUILD)/lscctl)
FAKES     := $(patsubst %.c,$(BUILD)/%,$(notdir $(FAKE_SRC)))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all deps check unit asan e2e e2e-asan faults hostile valgrind fuzz fuzz-build demo bench clean
# Objects are intermediate files of the test binaries: keep them.
.SECONDARY:
.DEFAULT_GOAL := all

all: $(PROGRAMS) $(FAKES)

deps:
	@sh tools/install-deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBCAPWAP): $(call obj,$(CAPWAP_SRC))
$(LIBPKI): $(call obj,$(PKI_SRC))
$(LIBCTRL): $(call obj,$(CTRL_SRC))
$(LIBCAPWAP) $(LIBPKI) $(LIBCTRL):
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	@rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/lscd: $(call obj,ctrl/main.c) $(LIBCTRL) $(LIBPKI) $(LIBCAPWAP)
$(BUILD)/lscctl: $(call obj,tools/lscctl.c) $(LIBCAPWAP)
$(BUILD)/apsim: $(call obj,$(APSIM_SRC)) $(LIBPKI) $(LIBCAPWAP)
$(foreach f,$(FAKE_SRC),$(eval $(BUILD)/$(notdir $(f:.c=)): $(call obj,$(f)) $(LIBPKI) $(LIBCAPWAP)))
$(PROGRAMS) $(FAKES):
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBCTRL) $(LIBPKI) $(LIBCAPWAP)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

unit: $(UNIT_BINS)
	@sh tests/run-unit.sh $(UNIT_BINS)

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 all unit

e2e: all
	@sh tools/netns-run.sh $(PYTEST) -q tests/e2e

# The hardening campaigns of issue 8, each on its own (all run in e2e too).
faults: all
	@sh tools/netns-run.sh $(PYTEST) -q tests/e2e/test_faults.py
hostile: all
	@sh tools/netns-run.sh $(PYTEST) -q tests/e2e/test_hostile.py tests/e2e/test_files.py
valgrind: all
	@sh tools/netns-run.sh $(PYTEST) -q tests/e2e/test_valgrind.py

# The same end-to-end tests with every program built with ASan/UBSan: a
# sanitizer report makes a process exit non-zero, which the tests check.
e2e-asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 all
	@LSCD_BUILD=$(CURDIR)/build-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		sh tools/netns-run.sh $(PYTEST) -q tests/e2e

check: deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory e2e-asan
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(or $(CHECK_FUZZ_SECONDS),10)

# libFuzzer targets link the library sources directly, built by clang with
# the fuzzer, address and undefined-behaviour instrumentation.
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -I. $(PKG_CFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
build-fuzz/%: tests/fuzz/%.c $(CAPWAP_SRC) $(PKI_SRC) $(CTRL_SRC)
	@mkdir -p build-fuzz
	@echo "  FUZZ    $@"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(CAPWAP_SRC) $(PKI_SRC) $(CTRL_SRC) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: deps fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

demo: deps all
	@sh tools/netns-run.sh sh tools/demo.sh

bench: deps all
	@sh tools/netns-run.sh sh tools/bench.sh

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
