# make test runs .ci/run, what CI runs: it installs the libzmq peer when
# missing, then, for every Go module of the repository, vets and runs every
# test (unit, race, goleak, libzmq interop), gives each fuzz target a short
# run and cross-builds; its last line sums it up. make vet, make fuzz and
# make cross run one stage of it (FUZZTIME=50000x make fuzz for a longer
# fuzz run: see .ci/run).
GO ?= go

.PHONY: test vet unit fuzz cross bench build

test:
	./.ci/run

vet:
	./.ci/run vet

unit:
	$(GO) test -race -count=1 ./...

fuzz:
	./.ci/run fuzz

cross:
	./.ci/run cross

build:
	$(GO) build -o bin/zmqkit ./cmd/zmqkit

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./sockets/ ./devices/ ./patterns/...
