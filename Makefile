# The two commands a newcomer needs:
#   make run    build, create ./var with a demo CA and configuration (once), start estd
#               (DEMO=DIR for another directory)
#   make check  build and run every test
# Both install missing Debian packages first (scripts/install-deps.sh).
#   make install [PREFIX=/usr/local] [DESTDIR=]   programs, libraries, headers,
#               estkit.pc, man pages, sample configuration and systemd unit

BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 60
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps build install run check check-postgresql bench fuzz soak clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# The prefix is set at configure time: estkit.pc and estd.service name it.
install: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD)

DEMO ?= var

# Quiet until estd's banner: first whether a demo already runs, then the
# build with its output kept in $(BUILD)/make-run.log and shown only on failure.
run:
	@scripts/run-demo.sh --preflight $(BUILD) $(DEMO)
	@scripts/install-deps.sh
	@mkdir -p $(BUILD)
	@{ cmake -S . -B $(BUILD) $(CMAKE_FLAGS) && cmake --build $(BUILD) -j$(JOBS); } \
	    > $(BUILD)/make-run.log 2>&1 || { tail -n 60 $(BUILD)/make-run.log; \
	    echo "make run: the build failed (all of its output: $(BUILD)/make-run.log)" >&2; exit 1; }
	@scripts/run-demo.sh $(BUILD) $(DEMO)

# Every test runs twice: on the normal build, and on a build with
# AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer, where any
# report fails the test. Each fuzzer also runs over its corpus plus 10 s of
# fresh inputs. test_durability's 1,000 enrolments across kills run on the
# normal build; under the sanitizers, where it alone took 10 of make check's
# 28 minutes, 400 go through the same kills and restarts.
check: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@scripts/fuzz.sh 10
	@cmake -S . -B $(BUILD)-sanitize -DCMAKE_BUILD_TYPE=Debug -DESTKIT_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)-sanitize -j$(JOBS)
	@cd $(BUILD)-sanitize && DURABILITY_ENROLMENTS=400 ctest --output-on-failure -j$(JOBS)

# The integration suite again with every demo's store moved to a PostgreSQL
# server of the test's own (docs/deployment.md). Not part of make check (the
# PostgreSQL-specific tests are): each test starts its own server.
check-postgresql: build
	@cd $(BUILD) && ESTKIT_TEST_STORE=postgresql ctest --output-on-failure -j$(JOBS) -R integration/

# The enrolment benchmark against a fresh local estd (docs/performance.md):
# writes bench/results/DATE.json; then the PostgreSQL column (bench/postgresql.sh:
# the store alone, one estd against two on one database). Takes about 6 minutes.
bench: build
	@bench/bench.sh $(BUILD)
	@bench/postgresql.sh $(BUILD)

# Fuzz every parser for FUZZ_SECONDS each (make fuzz FUZZ_SECONDS=600).
fuzz: deps
	@scripts/fuzz.sh $(FUZZ_SECONDS)

# A mixed load (enrolments, wrong passwords, pipelining floods, slow and idle
# clients) on one estd for SOAK_SECONDS, then RSS, fds and errors (make soak
# SOAK_SECONDS=600); then estclient renew --daemon renewing 2-minute
# certificates for as long. Not part of make check.
soak: build
	@scripts/soak.sh $(BUILD) $(SOAK_SECONDS)
	@scripts/soak-renew.sh $(BUILD) $(SOAK_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD)-sanitize build-fuzz
