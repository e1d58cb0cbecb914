# make test: what CI runs. It installs the libzmq peer when missing, then
# vets and runs every test (unit, race, goleak, libzmq interop).
GO ?= go
FUZZTIME ?= 3s

.PHONY: test vet unit interop fuzz bench build

test: vet
	./scripts/ensure-libzmq.sh
	$(GO) test -race -count=1 -tags interop -timeout 20m ./...

vet:
	$(GO) vet ./...
	$(GO) vet -tags interop ./...

unit:
	$(GO) test -race -count=1 ./...

build:
	$(GO) build -o bin/zmqkit ./cmd/zmqkit

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./sockets/
