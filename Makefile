# SPDX-License-Identifier: ISC
# ietd: one non-recursive Makefile. Each src/<module>/ becomes an archive
# build/lib<module>.a; a program or test links its module and the modules
# tools/layers.txt lets it use (MODDEPS), so a layering mistake fails at
# link time.
#
#   make            build ietd and ietadm
#   make run        build, make the demo image and config, run ietd -f
#   make check      every test (unit, config, integration, conformance)
#   make SAN=1 ...  AddressSanitizer + UndefinedBehaviorSanitizer build
#   make install    DESTDIR= PREFIX= (default /usr/local; config in /etc)
#   make deb        Debian package in build/deb/ (debian/, debhelper)

CC      ?= cc
PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
DESTDIR ?=

B := build
ifeq ($(SAN),1)
B := build/san
endif
# FUZZ=1: everything built by clang with libFuzzer's instrumentation and
# ASan + UBSan, for the fuzz/ targets (make fuzz, make fuzz-smoke).
ifeq ($(FUZZ),1)
B := build/fuzz
CC := clang
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-qual -Wformat=2 -Wundef -Wvla \
	-Wimplicit-fallthrough
ifeq ($(CI),true)
WARN += -Werror
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif

PKGS := libcrypto libisal liburing
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Ceph 16 ships no .pc files for librbd and librados.
PKG_LIBS += -lrbd -lrados
CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS ?= -O2 -g
# ABLATE=map, inline-read, inline-write or merge: the same ietd without
# that backend fast path, in build/no-<path>, for bench/ablate.sh to
# measure what the path wins.
ifneq ($(ABLATE),)
B := build/no-$(ABLATE)
CFLAGS += -DBACKEND_NO_$(subst -,_,$(shell echo '$(ABLATE)' | tr a-z A-Z))
endif
CFLAGS += -std=gnu11 $(WARN) -MMD -MP -D_GNU_SOURCE -Isrc $(PKG_CFLAGS)
LDLIBS += $(PKG_LIBS) -lpthread
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
# IETD_ASSERT() invariants (util/check.h) abort in this build.
CFLAGS += $(SANFLAGS) -DIETD_CHECKS
LDFLAGS += $(SANFLAGS)
endif
ifeq ($(FUZZ),1)
FUZZFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
CFLAGS += $(FUZZFLAGS) -fsanitize=fuzzer-no-link
LDFLAGS += $(FUZZFLAGS)
endif
ifeq ($(COVERAGE),1)
CFLAGS += --coverage
LDFLAGS += --coverage
endif

ifneq ($(V),1)
Q := @
endif

# Module layering: tools/layers.txt says which module may use which
# (lowest first). Here MODUSES_<m> is its line and MODDEPS_<m> what the
# archive of <m> links: <m>, every module it may use and theirs, highest
# first. "mod/file.h" entries allow one header and link nothing.
HASH := \#
LAYERS := $(shell awk '{ sub(/$(HASH).*/, ""); n = split($$0, w, /[: \t]+/) } \
	n > 1 { s = w[1] "="; for (i = 2; i <= n; i++) s = s w[i] "+"; print s }' \
	tools/layers.txt)
ifeq ($(LAYERS),)
$(error tools/layers.txt: no layers found)
endif
MODULES := $(foreach l,$(LAYERS),$(firstword $(subst =, ,$(l))))
$(foreach l,$(LAYERS),$(eval MODUSES_$(firstword $(subst =, ,$(l))) := \
	$(filter-out %.h,$(subst +, ,$(word 2,$(subst =, ,$(l)))))))
reverse = $(if $(1),$(call reverse,$(wordlist 2,$(words $(1)),$(1))) $(firstword $(1)))
modclosure = $(sort $(1) $(foreach d,$(MODUSES_$(1)),$(call modclosure,$(d))))
$(foreach m,$(MODULES),$(eval MODDEPS_$(m) := \
	$(filter $(call modclosure,$(m)),$(call reverse,$(MODULES)))))

# A program's main.c stays out of its archive so unit tests can link it.
modsrcs = $(filter-out src/%/main.c,$(wildcard src/$(1)/*.c))
modobjs = $(patsubst src/%.c,$(B)/obj/%.o,$(call modsrcs,$(1)))
modlibs = $(foreach m,$(MODDEPS_$(1)),$(if $(call modsrcs,$(m)),$(B)/lib$(m).a))

PROGS := $(B)/ietd $(if $(wildcard src/ietadm/main.c),$(B)/ietadm)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
# tests/unit/test_<module>_<what>.c links against <module>'s layer.
unitmod = $(word 2,$(subst _, ,$(notdir $(1))))

.PHONY: all run check check-unit check-integration check-conformance \
	check-valgrind check-deps lint format install clean fuzz fuzz-smoke fuzz-bins bench \
	print-layers
all: $(PROGS)

$(B)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# The source folder is a prerequisite too: adding or deleting a file
# changes its mtime, so an archive never keeps a deleted file's object.
define MODULE_RULES
$(B)/lib$(1).a: $(call modobjs,$(1)) src/$(1)
	@$$(if $$(Q),echo "  AR      $$@")
	$(Q)rm -f $$@ && ar rcs $$@ $$(filter %.o,$$^)
endef
$(foreach m,$(MODULES),$(eval $(call MODULE_RULES,$(m))))

$(B)/ietd: $(B)/obj/ietd/main.o $(call modlibs,ietd)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/ietadm: $(B)/obj/ietadm/main.o $(call modlibs,ietadm)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/obj/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(CMOCKA_CFLAGS) -Itests/unit -c -o $@ $<

.SECONDEXPANSION:
$(B)/tests/test_%: $(B)/tests/obj/test_%.o $$(call modlibs,$$(call unitmod,$$@))
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS)

FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst fuzz/%.c,build/fuzz/bin/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 10
FUZZ_LONG_SECONDS ?= 3600

build/fuzz/obj/fuzz/%.o: fuzz/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

build/fuzz/bin/%: build/fuzz/obj/fuzz/%.o $(call modlibs,ietd)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(CC) -fsanitize=fuzzer $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

fuzz-bins: $(FUZZ_BINS)

# A short run of every fuzz target on its checked-in corpus, after a
# replay of its saved reproducers in fuzz/regress/ (part of make check).
# New inputs go to a scratch folder, not into the repo.
fuzz-smoke:
	$(Q)$(MAKE) --no-print-directory FUZZ=1 fuzz-bins
	$(Q)FUZZ_SEED=$${FUZZ_SEED-1} tools/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

# Long runs: make fuzz FUZZ_LONG_SECONDS=N (default an hour per target),
# or make fuzz FUZZ_RUNS=10000000 for a count of executions per target.
fuzz:
	$(Q)$(MAKE) --no-print-directory FUZZ=1 fuzz-bins
	$(Q)FUZZ_RUNS=$(FUZZ_RUNS) tools/run-fuzz.sh $(FUZZ_LONG_SECONDS) $(FUZZ_BINS)

check-deps:
	$(Q)tools/ensure-deps.sh

# ietd against tgtd and istgt in one run (bench/README.md); never part of
# make check. BENCH_QUICK=1 for a short smoke run.
bench: all
	$(Q)bench/run.sh

# The direct librbd client behind the rbd LUN kind of bench/run.sh: the
# ceiling of an iSCSI gateway on the same image (bench/README.md).
$(B)/bench/rbd_load: bench/rbd_load.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lrbd -lrados

run: check-deps all
	$(Q)tools/demo.sh $(B)/ietd

check: check-deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS)
	$(Q)$(if $(FUZZ_SRCS),$(MAKE) --no-print-directory FUZZ=1 fuzz-bins)
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) tools/run-checks.sh $(B)

check-unit: $(UNIT_BINS)
	$(Q)tools/run-checks.sh $(B) unit

check-integration: all
	$(Q)tools/run-checks.sh $(B) integration

# The integration tests with every ietd under valgrind memcheck (slow; not
# part of make check): fails on any memcheck error or definite leak.
check-valgrind: all
	$(Q)VALGRIND=1 tools/run-checks.sh $(B) integration

lint: check-deps
	$(Q)tools/lint.sh

# What each module may use (tools/layers.txt) and what its archive links.
print-layers:
	@$(foreach m,$(MODULES),printf '%-8s uses: %s\n%-8s links: %s\n' \
		$(m) '$(strip $(MODUSES_$(m)))' '' '$(MODDEPS_$(m))';)

format:
	$(Q)clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/*.[ch]' 'fuzz/*.[ch]')

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR) \
		$(DESTDIR)$(UNITDIR)
	install -m 755 $(PROGS) $(DESTDIR)$(SBINDIR)/
	install -m 644 doc/ietd.8 $(wildcard doc/ietadm.8) $(DESTDIR)$(MANDIR)/man8/
	install -m 644 doc/ietd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	@# Never overwrite an administrator's configuration. ietd.conf holds
	@# CHAP secrets (0600); the allow files none, and ietd running with -u
	@# must still read them at every login (0644).
	test -e $(DESTDIR)$(SYSCONFDIR)/ietd.conf || \
		install -m 600 etc/ietd.conf $(DESTDIR)$(SYSCONFDIR)/ietd.conf
	for f in initiators.allow initiators.deny targets.allow; do \
		test -e $(DESTDIR)$(SYSCONFDIR)/$$f || \
		install -m 644 etc/$$f $(DESTDIR)$(SYSCONFDIR)/$$f; \
	done
	sed 's|@SBINDIR@|$(SBINDIR)|g' etc/ietd.service > $(DESTDIR)$(UNITDIR)/ietd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/ietd.service

# make deb: the Debian package (debian/, debhelper running make install)
# in build/deb/, built from a copy of the tree so that nothing is written
# next to it (dpkg-buildpackage puts its output in the parent folder).
deb:
	$(Q)rm -rf build/deb && mkdir -p build/deb/src
	$(Q)tar -cf - --exclude=./build --exclude=./.git --exclude=./state . | \
		tar -C build/deb/src -xf -
	$(Q)cd build/deb/src && DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=2" \
		dpkg-buildpackage -b -us -uc >../build.log 2>&1 || \
		{ tail -n 30 ../build.log; exit 1; }
	$(Q)ls build/deb/*.deb

clean:
	rm -rf build

-include $(shell find $(B) -name '*.d' 2>/dev/null)
