# Eas.Node — the two commands a newcomer needs:
#   make demo   install what the demo needs, build, start coordinator + agent, deploy the quick start
#   make test   build and run every test tier (unit, functional with real runc/conmon/CNI/SQLite/gRPC)
#
# Other targets: build, launchers, demo-stop, packages, lint, format, bench, clean.

SHELL := /bin/bash
CONFIGURATION ?= Release
DOTNET ?= dotnet
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

# OS packages the runtime and the tests need (Debian/Ubuntu names).
OS_PACKAGES := runc conmon containernetworking-plugins iptables iproute2 procps python3 python3-venv python3-flask curl jq gcc libc6-dev libcjson-dev s3fs git python3-grpcio
# What `make packages` needs beyond the .NET SDK and dpkg-deb (rpmbuild), and what the packaging test adds.
PACKAGING_PACKAGES := rpm
TEST_PACKAGES := $(PACKAGING_PACKAGES) lintian sqlite3

LAUNCHERS := bin/easctl bin/eas-coordinator bin/eas-agent bin/eas-gateway bin/fake-nvml

.PHONY: all deps build fake-nvml launchers demo demo-stop packages test test-unit lint format bench clean

all: build

## deps: install the OS packages (root, apt) when any is missing
deps:
	@scripts/install-deps.sh $(OS_PACKAGES)

## build: compile everything (the fake NVML too) and write the bin/ launchers
build: fake-nvml
	$(DOTNET) build Eas.Node.sln -c $(CONFIGURATION) -nologo -clp:ErrorsOnly
	@$(MAKE) --no-print-directory launchers

## fake-nvml: the C libnvidia-ml.so.1 that emulates GPUs for tests and `make demo FAKE_GPUS=2xH100-80GB`
fake-nvml:
	@$(MAKE) --no-print-directory -C native/fake-nvml

launchers:
	@scripts/write-launchers.sh $(CONFIGURATION)

## demo: coordinator (gateway embedded) + one agent in the background, quick start deployed with 2 instances
##       FAKE_GPUS=2xH100-80GB gives the demo agent(s) GPUs through the fake NVML (see docs/gpus.md)
demo: deps build
	@FAKE_GPUS="$(FAKE_GPUS)" scripts/demo.sh

## demo-stop: stop everything the demo started and remove its state
demo-stop:
	@scripts/demo-stop.sh

## packages: self-contained ReadyToRun .deb and .rpm of eas-agent, eas-coordinator, eas-gateway and easctl in dist/
##           (COMPRESSION=xz for smaller, slower-to-build packages; see docs/operations.md)
packages:
	@scripts/install-deps.sh $(PACKAGING_PACKAGES)
	@COMPRESSION="$(COMPRESSION)" packaging/build.sh

## test: build and run every test project (functional tests need root for runc, CNI and cgroups)
test: deps build
	@scripts/install-deps.sh $(TEST_PACKAGES)
	@scripts/run-tests.sh $(CONFIGURATION)

## lint: the code style gate (also run by CI)
lint:
	$(DOTNET) format Eas.Node.sln --verify-no-changes --no-restore

format:
	$(DOTNET) format Eas.Node.sln --no-restore

## bench: gateway vs nginx, deploy latency, agent memory, NVML polling cost, scheduler throughput, cache, rolling update and node loss (see bench/README.md)
bench: deps build
	@bench/run-all.sh

clean:
	$(DOTNET) clean Eas.Node.sln -nologo -v q
	rm -rf bin dist packaging/obj
