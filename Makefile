# make test runs .ci/run, what CI runs: it installs the libzmq peer when
# missing, then vets and runs every test (unit, race, goleak, libzmq
# interop) and a short run of every fuzz target.
GO ?= go
# FuzzHandshake runs 3000 inputs: each drives four handshakes (about 90 s at
# 20000 under CI load).
# A count, not a duration: a -fuzztime duration races Go 1.26's fuzz
# coordinator at the deadline (go.dev/issue/75804, fixed in Go 1.27) and
# fails now and then with a bare "context deadline exceeded".
FUZZTIME ?= 20000x
CODEC_FUZZ = FuzzJSON FuzzGob FuzzString

.PHONY: test vet unit fuzz bench build

test:
	./.ci/run

vet:
	$(GO) vet ./...
	$(GO) vet -tags interop ./...
	$(GO) vet -tags 'interop libzmq' ./bench/

unit:
	$(GO) test -race -count=1 ./...

fuzz:
	@for t in $(CODEC_FUZZ); do \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./codec/ || exit 1; \
	done
	$(GO) test -run '^$$' -fuzz '^FuzzMsgpack$$' -fuzztime $(FUZZTIME) ./codec/msgpack/
	$(GO) test -run '^$$' -fuzz '^FuzzProto$$' -fuzztime $(FUZZTIME) ./codec/protobuf/
	$(GO) test -run '^$$' -fuzz '^FuzzDecoder$$' -fuzztime $(FUZZTIME) ./sockets/internal/engine/
	$(GO) test -run '^$$' -fuzz '^FuzzWriterRoundTrip$$' -fuzztime $(FUZZTIME) ./sockets/internal/engine/
	$(GO) test -run '^$$' -fuzz '^FuzzHandshake$$' -fuzztime 3000x ./sockets/internal/engine/

build:
	$(GO) build -o bin/zmqkit ./cmd/zmqkit

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./sockets/ ./devices/ ./patterns/...
