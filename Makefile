# The two commands a newcomer needs:
#   make run    build, create ./var with a demo CA and configuration (once), start estd
#   make check  build and run every test
# Both install missing Debian packages first (scripts/install-deps.sh).
#   make install [PREFIX=/usr/local] [DESTDIR=]   programs, libraries, headers,
#               estkit.pc, man pages, sample configuration and systemd unit

BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

FUZZ_SECONDS ?= 60
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps build install run check fuzz clean

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

run: build
	@scripts/run-demo.sh $(BUILD) var

# Every test runs twice: on the normal build, and on a build with
# AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer, where any
# report fails the test. Each fuzzer also runs over its corpus plus 10 s of
# fresh inputs.
check: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@scripts/fuzz.sh 10
	@cmake -S . -B $(BUILD)-sanitize -DCMAKE_BUILD_TYPE=Debug -DESTKIT_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD)-sanitize -j$(JOBS)
	@cd $(BUILD)-sanitize && ctest --output-on-failure -j$(JOBS)

# Fuzz every parser for FUZZ_SECONDS each (make fuzz FUZZ_SECONDS=600).
fuzz: deps
	@scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(BUILD)-sanitize build-fuzz
