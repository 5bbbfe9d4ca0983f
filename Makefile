# wsgate — plain GNU make.  See README.md for the targets.
#
# Conventions, so that adding a file never means editing this Makefile:
#   src/ws/*.c            -> $(B)/libws.a          (protocol core)
#   src/gateway/*.c       -> $(B)/libgw.a + $(B)/wsgate (gw_main.c has main)
#   src/tools/NAME.c      -> $(B)/NAME             (one program per file)
#   src/tools/NAME/*.c    -> $(B)/NAME             (a program of several files)
#   tests/unit/test_*.c   -> $(B)/tests/test_*     (Check suites)
#   tests/fuzz/fuzz_*.c   -> build/fuzz/fuzz_*     (libFuzzer, clang)

PREFIX  ?= /usr/local
DESTDIR ?=
SAN     ?=
B       ?= $(if $(SAN),build/asan,build)

CC      ?= cc
PKGS    := libevent libevent_openssl libnghttp2 openssl zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -levent_pthreads -lpthread
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SANFLAGS := $(if $(SAN),$(ASAN_FLAGS))
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -Isrc/ws -Isrc/gateway -Isrc/client \
              $(PKG_CFLAGS) -MMD -MP
LDFLAGS_ALL := $(SANFLAGS) $(LDFLAGS)

WS_SRC   := $(sort $(wildcard src/ws/*.c))
GW_SRC   := $(sort $(filter-out src/gateway/gw_main.c,$(wildcard src/gateway/*.c)))
TOOL_SRC := $(sort $(wildcard src/tools/*.c))
TOOL_DIRS := $(sort $(patsubst src/tools/%/,%,$(dir $(wildcard src/tools/*/*.c))))
CLIENT_SRC := $(sort $(wildcard src/client/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

WS_OBJ   := $(WS_SRC:%.c=$(B)/obj/%.o)
# Installed headers: ws.h and what it includes (internal ones stay private).
WS_PUBLIC_H := src/ws/ws.h $(addprefix src/ws/,$(shell sed -n 's/^\#include "\(.*\)"/\1/p' src/ws/ws.h))
GW_OBJ   := $(GW_SRC:%.c=$(B)/obj/%.o)
TOOLS    := $(TOOL_SRC:src/tools/%.c=$(B)/%) $(TOOL_DIRS:%=$(B)/%)
CLIENT_OBJ := $(CLIENT_SRC:%.c=$(B)/obj/%.o)
WSC_LIB  := $(if $(CLIENT_SRC),$(B)/libwsc.a)
UNITS    := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
WSGATE   := $(if $(wildcard src/gateway/gw_main.c),$(B)/wsgate)

.PHONY: all deps check check-unit check-integration check-conformance-fast check-asan \
        check-valgrind fuzz fuzz-build run bench conformance install clean format
all: $(B)/libws.a $(if $(GW_SRC),$(B)/libgw.a) $(WSGATE) $(TOOLS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/libws.a: $(WS_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/libgw.a: $(GW_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/wsgate: $(B)/obj/src/gateway/gw_main.o $(B)/libgw.a $(B)/libws.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(B)/libwsc.a: $(CLIENT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/%: $(B)/obj/src/tools/%.o $(WSC_LIB) $(if $(GW_SRC),$(B)/libgw.a) $(B)/libws.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

define TOOL_DIR_RULE
$(B)/$(1): $(patsubst %.c,$(B)/obj/%.o,$(sort $(wildcard src/tools/$(1)/*.c))) $(WSC_LIB) \
           $(if $(GW_SRC),$(B)/libgw.a) $(B)/libws.a
	$(CC) $(LDFLAGS_ALL) -o $$@ $$^ $(PKG_LIBS)
endef
$(foreach t,$(TOOL_DIRS),$(eval $(call TOOL_DIR_RULE,$(t))))

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(WSC_LIB) $(if $(GW_SRC),$(B)/libgw.a) $(B)/libws.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS) -lm

deps:
	@scripts/install-deps.sh

# The README's test command: installs what is missing, builds, runs every
# unit and integration test, then the same suites under ASan+UBSan.
check: deps
	$(MAKE) all
	$(MAKE) check-unit
	$(MAKE) check-integration
	$(MAKE) check-conformance-fast
	$(MAKE) check-asan

# The fast subset of the conformance suite over ws, wss, h2c and h2;
# `make conformance` runs every case and writes build/conformance/report.md.
check-conformance-fast: all
	@WSGATE=$(B)/wsgate tests/conformance/run.sh --fast

check-unit: $(UNITS) $(B)/libws.a
	@scripts/check-readme.sh $(B) "$(SANFLAGS)"
	@scripts/run-unit.sh $(UNITS)

check-integration: all
	@if [ -x tests/integration/run.sh ]; then WSGATE=$(B)/wsgate BUILD=$(B) \
	  tests/integration/run.sh; else echo "integration: no suite yet"; fi

check-asan:
	$(MAKE) SAN=1 all
	$(MAKE) SAN=1 check-unit
	$(MAKE) SAN=1 check-integration

# The daemon (normal build) under valgrind's memcheck for a subset of the
# integration suite that covers every major path; see docs/sanitizers.md.
check-valgrind: all
	@WSGATE=$(B)/wsgate tests/integration/run-valgrind.sh

# libFuzzer targets, built with clang; each runs FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
                -Isrc/ws -Isrc/gateway -Isrc/client $(PKG_CFLAGS)
FUZZ_LIB_OBJ := $(WS_SRC:%.c=build/fuzz/obj/%.o) $(GW_SRC:%.c=build/fuzz/obj/%.o) \
                $(CLIENT_SRC:%.c=build/fuzz/obj/%.o)
FUZZERS      := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -c $< -o $@

build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

fuzz-build: $(FUZZERS)

fuzz: deps fuzz-build
	@scripts/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZERS)

run: deps all
	@scripts/run-dev.sh $(B)/wsgate

bench: deps all
	@BENCH_BUILD=$(B) scripts/bench.sh

conformance: deps all
	@tests/conformance/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/ws
	$(if $(WSGATE),install -m 755 $(WSGATE) $(DESTDIR)$(PREFIX)/bin/wsgate)
	$(if $(TOOLS),install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/)
	install -m 644 $(B)/libws.a $(DESTDIR)$(PREFIX)/lib/libws.a
	install -m 644 $(WS_PUBLIC_H) $(DESTDIR)$(PREFIX)/include/ws/
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	  $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/doc/wsgate \
	  $(DESTDIR)$(PREFIX)/share/wsgate/www $(DESTDIR)$(PREFIX)/lib/systemd/system
	for m in docs/*.[158]; do install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/; done
	install -m 644 conf/wsgate.conf $(DESTDIR)$(PREFIX)/share/doc/wsgate/wsgate.conf.example
	install -m 644 www/* $(DESTDIR)$(PREFIX)/share/wsgate/www/
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' systemd/wsgate.service \
	  > $(DESTDIR)$(PREFIX)/lib/systemd/system/wsgate.service

format:
	clang-format -i $(shell find src -name "*.[ch]") tests/unit/*.[ch] tests/fuzz/*.c bench/*.c

clean:
	rm -rf build

.SECONDARY:

-include $(shell find $(B) -name '*.d' 2>/dev/null)
