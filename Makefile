# hookgate — one boring Makefile (see README.md).
#   make            build build/hookgate
#   make run        install missing packages, build, serve examples/hookgate.yaml
#   make test       install missing packages, unit tests (cmocka), the Prometheus
#                   rules (promtool) + e2e (node:test)
#   make test-pg    the PostgreSQL store's unit tests, the store conformance suite
#                   and the whole e2e suite on a throwaway PostgreSQL cluster
#                   (scripts/with-postgres.sh)
#   make asan       build build/asan/hookgate with ASan+UBSan and run all tests on it
#   make tsan       the unit tests under ThreadSanitizer
#   make fuzz       build the libFuzzer targets (tests/fuzz) with clang, run each FUZZ_TIME s
#   make fuzz-smoke the same for FUZZ_SMOKE_TIME s each (CI)
#   make deps       install the Debian packages hookgate needs (root) or print the command
#   make format     clang-format every source file in place
#   make format-check  fail when a source file is not as make format leaves it (CI)
#   make chaos      kill -9 / full disk / removed store file against the real
#                   daemon (tests/chaos/chaos.mjs; long, not part of make test)
#   make install    the binary, man page, systemd unit, configs (PREFIX=/usr/local,
#                   DESTDIR=); make uninstall removes them again (not /etc/hookgate)
#   make deb        build/hookgate_VERSION_ARCH.deb (scripts/build-deb.sh)
#   make test-install  the unit through systemd-analyze verify, make install into
#                   a scratch DESTDIR, and (as root, when no hookgate is installed)
#                   the package: dpkg -i, config check, dpkg --purge

CC      ?= cc
PKGS    := libh2o-evloop openssl jansson yajl yaml-0.1 sqlite3 libcurl libpq libsystemd
BUILD   ?= build
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wformat=2 -Werror
CPPFLAGS += -Isrc -DH2O_USE_LIBUV=0 -DHG_VERSION=\"$(VERSION)\"
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

SRCS     := $(sort $(wildcard src/*.c src/*/*.c))
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
# The console's static files (ui/), embedded at build time as a generated C
# file (build/gen, never in git) by scripts/embed-ui.sh.
UI_FILES := $(sort $(wildcard ui/*.html ui/*.js ui/*.css ui/*.svg))
UI_OBJ   := $(BUILD)/obj/gen/console_assets.o
OBJS     := $(SRCS:%.c=$(BUILD)/obj/%.o) $(UI_OBJ)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(UI_OBJ)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c tests/unit/*/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all run test test-pg unit rules e2e asan tsan deps format format-check clean check-deps bench chaos \
	install uninstall deb test-install

all: $(BUILD)/hookgate

$(BUILD)/hookgate: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(WARN) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/gen/console_assets.c: $(UI_FILES) scripts/embed-ui.sh
	@mkdir -p $(dir $@)
	scripts/embed-ui.sh $@ $(UI_FILES)

$(UI_OBJ): $(BUILD)/gen/console_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c -o $@ $<

# -MMD: a test is rebuilt when a header it includes changes, as objects are.
$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(WARN) $(CFLAGS) -MMD -MP -MF $@.d -o $@ $< $(LIB_OBJS) $(PKG_LIBS) -lcmocka

-include $(OBJS:.o=.d) $(UNIT_BINS:=.d)

deps:
	@scripts/install-deps.sh

run: deps all
	@BIN=$(BUILD)/hookgate scripts/run.sh

test: deps
	@scripts/install-deps.sh --test
	$(MAKE) all $(UNIT_BINS)
	$(MAKE) unit rules test-install e2e

# The Prometheus alerting rules (contrib/prometheus): valid, and firing
# where hookgate's built-in rules fire (tests/prometheus).
rules:
	promtool check rules contrib/prometheus/hookgate-rules.yml
	promtool test rules tests/prometheus/hookgate-rules.test.yml

# A throwaway cluster (127.0.0.1 and a Unix socket in a temp dir) for the
# PostgreSQL store's unit tests (its own, then the store contract every
# backend must meet), then every e2e suite with each daemon on a fresh
# database of it (HOOKGATE_E2E_STORE); stopped and deleted afterwards.
test-pg: deps
	$(MAKE) all $(UNIT_BINS)
	$(MAKE) tests/e2e/node_modules/.package-lock.json
	scripts/with-postgres.sh sh -c '$(BUILD)/tests/test_store_pg && \
	  $(BUILD)/tests/test_store_conformance postgres && $(MAKE) e2e'

# test_notify starts the daemon itself (its systemd readiness messages).
unit: $(UNIT_BINS) $(BUILD)/hookgate
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; HOOKGATE_BIN=$(abspath $(BUILD)/hookgate) $$t; done

e2e: $(BUILD)/hookgate tests/e2e/node_modules/.package-lock.json
	cd tests/e2e && HOOKGATE_BIN=$(abspath $(BUILD)/hookgate) node --test --test-concurrency=1 *.test.mjs

asan: deps
	LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 \
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" all unit e2e

# The unit tests (the writer, the engine, the stats, the store's threads)
# under ThreadSanitizer; any report fails the run.
tsan: deps
	TSAN_OPTIONS=halt_on_error=1:exitcode=66 \
	$(MAKE) BUILD=build/tsan CFLAGS="-O1 -g -fsanitize=thread -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=thread" unit

# Every C file of ours, as the committed .clang-format lays it out;
# format-check (CI) fails on any file that would change.
FORMAT_SRCS = $(SRCS) $(wildcard src/*/*.h) $(UNIT_SRCS) $(wildcard tests/unit/*.h) \
	      $(wildcard tests/fuzz/*.c tests/fuzz/*.h)

format:
	@scripts/install-deps.sh --format
	clang-format -i $(FORMAT_SRCS)

format-check:
	@scripts/install-deps.sh --format
	clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf build

# Installation. SYSCONFDIR is /etc whatever the PREFIX: the unit, the
# package and the docs all say /etc/hookgate. The unit goes where systemd
# looks for it (/lib/systemd/system for PREFIX=/usr, as Debian packages do;
# PREFIX/lib/systemd/system otherwise). A config already in place is kept.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/hookgate
SYSCONFDIR ?= /etc
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)

$(BUILD)/hookgate.service: contrib/systemd/hookgate.service
	@mkdir -p $(dir $@)
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@

# Rebuilt every time: the same BUILD may be installed under another PREFIX.
.PHONY: $(BUILD)/hookgate.service

install: $(BUILD)/hookgate $(BUILD)/hookgate.service
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSCONFDIR)/hookgate
	install -m 0755 $(BUILD)/hookgate $(DESTDIR)$(BINDIR)/hookgate
	install -m 0644 docs/hookgate.1 $(DESTDIR)$(MANDIR)/man1/hookgate.1
	install -m 0644 $(BUILD)/hookgate.service $(DESTDIR)$(UNITDIR)/hookgate.service
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -m 0644 examples/hookgate.yaml $(DESTDIR)$(DOCDIR)/examples/hookgate.yaml
	install -m 0644 contrib/hookgate.env.example $(DESTDIR)$(DOCDIR)/examples/hookgate.env
	test -e $(DESTDIR)$(SYSCONFDIR)/hookgate/hookgate.yaml || \
	  install -m 0644 contrib/hookgate.yaml $(DESTDIR)$(SYSCONFDIR)/hookgate/hookgate.yaml

# Leaves $(SYSCONFDIR)/hookgate (your config and secrets) and the data in
# /var/lib/hookgate.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hookgate $(DESTDIR)$(MANDIR)/man1/hookgate.1 \
	  $(DESTDIR)$(UNITDIR)/hookgate.service
	rm -rf $(DESTDIR)$(DOCDIR)

deb: $(BUILD)/hookgate
	BUILD=$(BUILD) VERSION=$(VERSION) scripts/build-deb.sh

# The unit, make install/uninstall and the package (tests/install/run.sh).
test-install: $(BUILD)/hookgate
	BUILD=$(BUILD) VERSION=$(VERSION) tests/install/run.sh

# Benchmarks (bench/run.sh): hookgate against nginx and its peers on 127.0.0.1,
# ~10-15 minutes; rewrites bench/REPORT.md. Not part of `make test`.
bench:
	scripts/with-postgres.sh bench/run.sh

# Chaos (tests/chaos/chaos.mjs, docs/reliability.md): the real daemon under
# mixed load, kill -9 at random moments and restarted CHAOS_CYCLES times on
# the same SQLite store, then counted for loss; a full disk (a tmpfs, as
# root) and the store file removed while running. 127.0.0.1 only; 1-2
# minutes; not part of `make test` or CI. Knobs: CHAOS_CYCLES (20),
# CHAOS_SEED, CHAOS_CONCURRENCY (6), CHAOS_MIN_UP_MS/CHAOS_MAX_UP_MS (200/3000),
# CHAOS_DRAIN_S (180), CHAOS_DISK_MB (8), CHAOS_DISK_ROUNDS (3), CHAOS_DISK_MODE=fsize,
# CHAOS_SCENARIOS (kill,disk,removed), CHAOS_TIMEOUT_S (1800), CHAOS_KEEP=1,
# CHAOS_JSON=FILE.
CHAOS_CYCLES ?= 20
chaos: $(BUILD)/hookgate tests/e2e/node_modules/.package-lock.json
	HOOKGATE_BIN=$(abspath $(BUILD)/hookgate) CHAOS_CYCLES=$(CHAOS_CYCLES) node tests/chaos/chaos.mjs

# npm writes node_modules/.package-lock.json: older than the lock file
# means the test packages changed since they were installed.
tests/e2e/node_modules/.package-lock.json: tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund

# Fuzzing (tests/fuzz, libFuzzer; see docs/reliability.md). Every
# tests/fuzz/fuzz_<name>.c is one target, linked against the library built
# with clang into build/fuzz, apart from the gcc build above.
#   make fuzz         each target for FUZZ_TIME seconds (default 300)
#   make fuzz-smoke   each target for FUZZ_SMOKE_TIME seconds (default 45; CI)
# Each runs on a scratch copy of tests/fuzz/corpus/<name> (the committed
# corpus never grows); a crash fails the target and leaves its input in
# build/fuzz/artifacts.
FUZZ_BUILD      := build/fuzz
FUZZ_CC         ?= clang
FUZZ_TIME       ?= 300
FUZZ_SMOKE_TIME ?= 45
FUZZ_CFLAGS     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
		   -fno-sanitize-recover=undefined
# The library is gcc's to keep warning-free (-Werror above); clang's extra
# warnings on it are shown here but do not stop a fuzz build.
FUZZ_WARN := $(filter-out -Werror,$(WARN))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/gen/console_assets.o

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-deps
.SECONDARY: $(FUZZ_OBJS)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) $(FUZZ_WARN) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/obj/gen/console_assets.o: $(BUILD)/gen/console_assets.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_WARN) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	$(FUZZ_CC) $(CPPFLAGS) $(PKG_CFLAGS) $(WARN) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(PKG_LIBS)

-include $(FUZZ_OBJS:.o=.d)

fuzz-deps:
	@scripts/install-deps.sh --fuzz

fuzz-build: fuzz-deps
	$(MAKE) $(FUZZ_BINS)

fuzz: fuzz-build
	scripts/fuzz.sh $(FUZZ_TIME) $(FUZZ_BINS)

fuzz-smoke: fuzz-build
	scripts/fuzz.sh $(FUZZ_SMOKE_TIME) $(FUZZ_BINS)
