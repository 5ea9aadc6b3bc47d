# pgcopyman: see README.md.  `make`, `make check`, `make demo`, `make install`.
CC ?= cc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib
INCLUDEDIR = $(PREFIX)/include
MANDIR = $(PREFIX)/share/man
COMPLETIONDIR = $(PREFIX)/share/bash-completion/completions
WERROR ?= 1
SANITIZE ?= 0

# A library under a prefix the dynamic linker does not search gets an rpath
# in the .pc file's Libs, so that a program linked with `pkg-config --libs
# pgcopyman` starts without LD_LIBRARY_PATH; under a system prefix `make
# install` runs ldconfig instead (as root, DESTDIR empty).
SYSTEM_LIBDIRS = /usr/lib /usr/local/lib /lib /usr/lib64 /lib64
SYSTEM_PREFIX = $(filter $(LIBDIR),$(SYSTEM_LIBDIRS))
PC_RPATH = $(if $(SYSTEM_PREFIX),,-Wl,-rpath,$${libdir} )
PC_SED = -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@RPATH@|$(PC_RPATH)|g'

# The version is the header's (PGCM_VERSION): one place to change it.
VERSION := $(shell sed -n 's/^#define PGCM_VERSION "\(.*\)"/\1/p' include/pgcopyman.h)
SOMAJOR = 0

ifeq ($(SANITIZE),1)
BUILD ?= build/san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else
BUILD ?= build
SANFLAGS =
endif

# libpq: pkg-config first, pg_config as the fallback.
PQ_CFLAGS := $(shell $(PKG_CONFIG) --cflags libpq 2>/dev/null || echo -I`pg_config --includedir`)
PQ_LIBS := $(shell $(PKG_CONFIG) --libs libpq 2>/dev/null || echo -L`pg_config --libdir` -lpq)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)
# The command's compressed files (.gz, .zst, .lz4): zlib, libzstd, liblz4.
COMP_CFLAGS := $(shell $(PKG_CONFIG) --cflags zlib libzstd liblz4 2>/dev/null)
COMP_LIBS := $(shell $(PKG_CONFIG) --libs zlib libzstd liblz4 2>/dev/null || echo -lz -lzstd -llz4)

WARN = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN += -Werror
endif
OPT ?= -O2 -g
CFLAGS_ALL = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -pthread $(OPT) $(WARN) $(SANFLAGS) \
	-Iinclude $(PQ_CFLAGS) $(COMP_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = -pthread $(SANFLAGS) $(LDFLAGS)

LIB_SRC = $(sort $(wildcard src/*.c))
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_SRC = $(sort $(wildcard cli/*.c))
CLI_OBJ = $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# The integration tests: every tests/integration/itest_*.c linked into one runner
# (runner.c), with the helpers they share (util.c, plan_cases.c).
ITEST_SRC = $(sort $(wildcard tests/integration/*.c))
ITEST_OBJ = $(ITEST_SRC:%.c=$(BUILD)/%.o)
ITEST = $(BUILD)/tests/itest
EXAMPLE_SRC = $(sort $(wildcard examples/*.c))
EXAMPLE_BIN = $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)
BENCH_SRC = $(sort $(wildcard bench/*.c))
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

STATIC = $(BUILD)/libpgcopyman.a
SHARED = $(BUILD)/libpgcopyman.so
CLI = $(BUILD)/pgcopyman

.PHONY: all check unit integration examples demo install uninstall clean bench fuzz python python-check
all: $(STATIC) $(SHARED) $(CLI) $(BUILD)/pgcopyman.pc $(EXAMPLE_BIN)

$(BUILD)/src/%.o: src/%.c include/pgcopyman.h $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fPIC -fvisibility=hidden -c $< -o $@

$(BUILD)/cli/%.o: cli/%.c include/pgcopyman.h $(wildcard cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(SHARED): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libpgcopyman.so.$(SOMAJOR) -o $@ $^ $(LDFLAGS_ALL) $(PQ_LIBS)

$(CLI): $(CLI_OBJ) $(STATIC)
	$(CC) -o $@ $(CLI_OBJ) $(STATIC) $(LDFLAGS_ALL) $(PQ_LIBS) $(COMP_LIBS) -lm

$(BUILD)/pgcopyman.pc: pgcopyman.pc.in
	@mkdir -p $(dir $@)
	sed $(PC_SED) $< > $@

# Unit tests reach into the library's internals, so they link the static library;
# those of CLI modules compile the module's file in.
$(BUILD)/tests/test_%: tests/unit/test_%.c $(STATIC) src/internal.h $(wildcard cli/*.c cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Isrc -o $@ $< $(STATIC) $(LDFLAGS_ALL) $(PQ_LIBS) $(COMP_LIBS) $(CMOCKA_LIBS)

# The completion test reads every subcommand's option table: it links the
# command's modules (all but main.o) instead of compiling one in.
CLI_MODULES = $(filter-out $(BUILD)/cli/main.o,$(CLI_OBJ))
$(BUILD)/tests/test_completion: tests/unit/test_completion.c $(CLI_MODULES) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Icli -o $@ $< $(CLI_MODULES) $(STATIC) $(LDFLAGS_ALL) $(PQ_LIBS) $(COMP_LIBS) -lm \
		$(CMOCKA_LIBS)

$(BUILD)/tests/integration/%.o: tests/integration/%.c $(wildcard tests/integration/*.h) \
		include/pgcopyman.h src/internal.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Isrc -c $< -o $@

$(ITEST): $(ITEST_OBJ) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(ITEST_OBJ) $(STATIC) $(LDFLAGS_ALL) $(PQ_LIBS) $(CMOCKA_LIBS) -lpthread

$(BUILD)/examples/%: examples/%.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(STATIC) $(LDFLAGS_ALL) $(PQ_LIBS)

$(BUILD)/bench/%: bench/%.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Isrc -O3 -o $@ $< $(STATIC) $(LDFLAGS_ALL) $(PQ_LIBS)

# make check: unit tests (no server), then integration tests, examples and
# CLI tests against throwaway clusters started by tests/harness.sh, then the
# Python package's tests (last: pytest's summary ends the output).
check: unit integration
	@$(MAKE) --no-print-directory python-check

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

# ITEST_ARGS: patterns that pick tests (build/tests/itest --help), e.g. ITEST_ARGS='copy faults/*abort*'.
integration: all $(ITEST)
	PGCM_BUILD=$(BUILD) tests/harness.sh -n 4 -- tests/run-integration.sh $(ITEST) $(ITEST_ARGS)

examples: $(EXAMPLE_BIN)

# The Python package (python/, see README.md): the extension module built
# against this build's static library and the system libpq, by Debian's
# setuptools, with no network.  `make python` builds it in place (PYTHONPATH=python);
# with SANITIZE=1 it goes to $(BUILD)/python, instrumented, and its tests run
# with ASan preloaded into the interpreter (CPython frees little at exit, so
# leak detection is off there; the reference counts are tested instead).
PYTHON ?= /usr/bin/python3
PY_TMP = $(abspath $(BUILD))/python-tmp
ifeq ($(SANITIZE),1)
PY_DIR = $(abspath $(BUILD))/python
PY_SETUP = build_py -d $(PY_DIR) build_ext -b $(PY_DIR) -t $(PY_TMP)
PY_RUN = env LD_PRELOAD="$$($(CC) -print-file-name=libasan.so)" PYTHONMALLOC=malloc \
	ASAN_OPTIONS="$$ASAN_OPTIONS:detect_leaks=0" $(PYTHON)
else
PY_DIR = $(abspath python)
PY_SETUP = build_ext --inplace -t $(PY_TMP)
PY_RUN = $(PYTHON)
endif

python: $(STATIC)
	cd python && PGCM_STATIC_LIB=$(abspath $(STATIC)) PGCM_WERROR=$(WERROR) \
		PGCM_EXTRA_CFLAGS="$(SANFLAGS)" $(PYTHON) setup.py -q $(PY_SETUP)

# PYTEST_ARGS: more pytest arguments, e.g. PYTEST_ARGS="-k 'not million'".
python-check: python $(CLI)
	PGCM_BUILD=$(BUILD) PYTHONPATH=$(PY_DIR) tests/harness.sh -n 3 -- \
		$(PY_RUN) -m pytest -q -p no:cacheprovider python/tests $(PYTEST_ARGS)

demo:
	bash tests/demo.sh

bench: all $(BENCH_BIN)
	bash bench/run.sh
	PGCM_BUILD=$(BUILD) bash bench/multi_tables.sh

fuzz:
	$(MAKE) -f tests/fuzz/Makefile

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/pgcopyman
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/libpgcopyman.a
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/libpgcopyman.so.$(VERSION)
	ln -sf libpgcopyman.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libpgcopyman.so.$(SOMAJOR)
	ln -sf libpgcopyman.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libpgcopyman.so
	install -m 644 include/pgcopyman.h $(DESTDIR)$(INCLUDEDIR)/pgcopyman.h
	sed $(PC_SED) pgcopyman.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/pgcopyman.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/pgcopyman.pc
	install -m 644 doc/pgcopyman.1 $(DESTDIR)$(MANDIR)/man1/pgcopyman.1
	install -d $(DESTDIR)$(COMPLETIONDIR)
	install -m 644 contrib/pgcopyman.bash $(DESTDIR)$(COMPLETIONDIR)/pgcopyman
	@if [ -n "$(SYSTEM_PREFIX)" ] && [ -z "$(DESTDIR)" ]; then \
		if [ "$$(id -u)" = 0 ]; then ldconfig; \
		else echo "make install: run ldconfig as root so that programs find libpgcopyman.so.$(SOMAJOR) in $(LIBDIR)"; fi; \
	fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pgcopyman $(DESTDIR)$(LIBDIR)/libpgcopyman.a \
		$(DESTDIR)$(LIBDIR)/libpgcopyman.so $(DESTDIR)$(LIBDIR)/libpgcopyman.so.$(SOMAJOR) \
		$(DESTDIR)$(LIBDIR)/libpgcopyman.so.$(VERSION) $(DESTDIR)$(INCLUDEDIR)/pgcopyman.h \
		$(DESTDIR)$(LIBDIR)/pkgconfig/pgcopyman.pc $(DESTDIR)$(MANDIR)/man1/pgcopyman.1 \
		$(DESTDIR)$(COMPLETIONDIR)/pgcopyman

clean:
	rm -rf build
