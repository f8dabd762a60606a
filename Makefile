# pixseek build. One library (libpixseek.a) of all modules but cli, the
# pixseek binary, the test runner and the fuzz targets.
#
#   make                    release build in build/release (gcc)
#   make MODE=asan CC=clang ASan+UBSan build in build/asan-clang
#   make test               build and run the unit tests (see scripts/test.sh
#                           for the full suite the CI runs)
#   make MODE=fuzz CC=clang fuzz   libFuzzer targets in build/fuzz-clang
#
# Sources are found by wildcard: a new file under src/<module>/ or
# tests/<module>/ is built without editing this file. ISA-specific kernels
# live in src/<module>/arch/ and get their -m flags from their file name
# suffix (_avx2.c, _avx512.c, _amx.c).

MODE ?= release
CC ?= cc
CCNAME := $(notdir $(firstword $(CC)))
BUILD ?= build/$(MODE)-$(CCNAME)

PKGS := vips lmdb libmicrohttpd libcjson libxxhash zlib libjpeg
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wvla -Wpointer-arith \
        -Wno-missing-field-initializers
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -Iinclude -Isrc $(WARN) -g -pthread -MMD -MP
ifeq ($(MODE),asan)
  OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
  SAN_LDFLAGS := -fsanitize=address,undefined
else ifeq ($(MODE),fuzz)
  OPT := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
  SAN_LDFLAGS := -fsanitize=address,undefined
else ifeq ($(MODE),debug)
  OPT := -O0
else
  OPT := -O2
endif
CFLAGS_ALL := $(BASE_CFLAGS) $(OPT) $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL := $(PKG_LIBS) -ldnnl -lgomp -lm -pthread $(SAN_LDFLAGS) $(LDFLAGS)

LIB_MODULES := core image nn index store engine server
LIB_SRCS := $(sort $(foreach m,$(LIB_MODULES),$(shell find src/$(m) -name '*.c' 2>/dev/null)))
CLI_SRCS := $(sort $(shell find src/cli -name '*.c'))
TEST_SRCS := $(sort $(shell find tests -name '*.c' -not -path 'tests/integration/*'))
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/obj/%.o)

ISA_avx2 := -mavx2 -mfma -mf16c
ISA_avx512 := -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni -mavx512bf16
ISA_amx := $(ISA_avx512) -mamx-tile -mamx-int8 -mamx-bf16
isa_flags = $(strip $(if $(filter %_avx2.c,$1),$(ISA_avx2)) \
                    $(if $(filter %_avx512.c,$1),$(ISA_avx512)) \
                    $(if $(filter %_amx.c,$1),$(ISA_amx)))

.PHONY: all test module-test fuzz clean
# Keep programs built through pattern chains (bench-NAME, fuzz-NAME).
.SECONDARY:
all: $(BUILD)/pixseek $(BUILD)/pixseek-tests $(FUZZ_TARGETS:%=$(BUILD)/fuzz-replay-%)

Q := $(if $(V),,@)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC  $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(call isa_flags,$<) -c $< -o $@

# The web UI is embedded with .incbin, which -MMD does not track.
$(BUILD)/obj/src/server/assets.o: $(wildcard web/*) src/server/openapi.json

$(BUILD)/libpixseek.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/pixseek: $(CLI_OBJS) $(BUILD)/libpixseek.a
	$(CC) $(CFLAGS_ALL) -o $@ $(CLI_OBJS) $(BUILD)/libpixseek.a $(LDLIBS_ALL)

$(BUILD)/pixseek-tests: $(TEST_OBJS) $(BUILD)/libpixseek.a
	$(CC) $(CFLAGS_ALL) -o $@ $(TEST_OBJS) $(BUILD)/libpixseek.a $(LDLIBS_ALL)

$(BUILD)/fuzz-replay-%: $(BUILD)/obj/fuzz/fuzz_%.o $(BUILD)/obj/fuzz/replay_main.o $(BUILD)/libpixseek.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# Benchmark programs: bench/NAME.c -> $(BUILD)/bench/NAME (make bench-NAME)
$(BUILD)/bench/%: bench/%.c $(BUILD)/libpixseek.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libpixseek.a $(LDLIBS_ALL)
bench-%: $(BUILD)/bench/%
	@echo $(BUILD)/bench/$*

# libFuzzer builds: make MODE=fuzz CC=clang fuzz
fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz-%)
$(BUILD)/fuzz-%: $(BUILD)/obj/fuzz/fuzz_%.o $(BUILD)/libpixseek.a
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ $(LDLIBS_ALL)

# One module alone, with core: make module-test M=image [BUILD=build/mine]
# (lets a module be built and tested while other modules are mid-change).
M ?= core
MOD_SRCS := $(sort $(shell find src/core $(if $(filter core,$(M)),,src/$(M)) -name '*.c' 2>/dev/null))
MOD_TESTS := tests/runner.c $(sort $(shell find tests/core $(if $(filter core,$(M)),,tests/$(M)) -name '*.c' 2>/dev/null))
$(BUILD)/test-$(M): $(MOD_SRCS:%.c=$(BUILD)/obj/%.o) $(MOD_TESTS:%.c=$(BUILD)/obj/%.o)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)
module-test: $(BUILD)/test-$(M)
	$(BUILD)/test-$(M) $(T)

test: $(BUILD)/pixseek-tests $(BUILD)/pixseek
	PXS_BIN=$(BUILD)/pixseek $(BUILD)/pixseek-tests

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(TEST_OBJS:.o=.d)
