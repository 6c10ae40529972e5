# Potok: the two commands that matter are `make run` (the server) and `make test` (every test).
GO        ?= go
BIN       := bin/potok
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 8s
# CI has 2 cores and 90 minutes; the whole suite stays well under 25.
TESTFLAGS ?= -count=1 -timeout 25m
# The packages that build for GOOS=js GOARCH=wasm (the contracts, the client, its browser build).
WASM_PKGS := ./api/... ./wasmclient/ ./wasmclient/media ./wasmclient/potokjs
# Where `make wasm` puts the browser client's build for cmd/potok to embed (webclient, /client/).
WASM_OUT  := webclient/static
# The WebSDK package `make run` serves at /client2/ when scripts/deps.sh installed it (its examples, as WCS).
WEBSDK    := e2e/node_modules/@flashphoner/websdk

.PHONY: run build test test-go fuzz deps wasm bench lint clean

## run: the all-in-one server (embedded NATS, signal, mediad) on WCS's default ports; it logs the URLs
## of the browser client's demo pages (/client/) and of the WebSDK's examples (/client2/)
run: build
	./$(BIN) --log-format console $(if $(wildcard $(WEBSDK)/flashphoner.js),--websdk-dir $(WEBSDK))

## build: the one binary (with the browser client's wasm, served at /client/)
build: wasm
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/potok

## test: installs what the tests need, then runs vet, every Go test (browser ones included) and short fuzzing
test: deps lint test-go fuzz

deps:
	bash scripts/deps.sh

# wasm first: the potok binaries the tests build embed it (e2e TestWasmClientServedByPotok).
test-go: wasm
	POTOK_E2E=1 $(GO) test $(TESTFLAGS) ./...

## fuzz: every FuzzXxx target for FUZZTIME each
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

## wasm: the browser client (wasmclient/potokjs) as webclient/static/potok.wasm.gz with Go's wasm_exec.js,
## which bin/potok embeds and serves at /client/; also checks that the js/wasm packages build.
wasm:
	GOOS=js GOARCH=wasm $(GO) build $(WASM_PKGS)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags '-s -w' -o $(WASM_OUT)/potok.wasm ./wasmclient/potokjs
	@wc -c <$(WASM_OUT)/potok.wasm | xargs printf 'potok.wasm: %s bytes, '
	@gzip -9 -n -f $(WASM_OUT)/potok.wasm
	@wc -c <$(WASM_OUT)/potok.wasm.gz | xargs printf '%s gzipped\n'
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" $(WASM_OUT)/wasm_exec.js

## bench: Go micro-benchmarks, then a short fan-out load against a fresh all-in-one server
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	bash scripts/bench-fanout.sh

## lint: formatting, go.mod/go.sum tidy, vet and staticcheck (native and js/wasm)
# staticcheck is the version go.mod's tool directive pins (go tool builds it once into the build cache).
# Its native and js/wasm runs are merged (-merge) so that code used by one build only, like the Stream
# hooks that only the native peer calls, is not reported unused; every other finding of either run is.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet $(WASM_PKGS)
	@set -e; sc=$$($(GO) tool -n staticcheck); d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	echo "staticcheck ./... and (js/wasm) $(WASM_PKGS)"; \
	"$$sc" -f binary ./... >"$$d/native"; \
	GOOS=js GOARCH=wasm "$$sc" -f binary $(WASM_PKGS) >"$$d/wasm"; \
	"$$sc" -merge "$$d/native" "$$d/wasm"

clean:
	rm -rf bin dist
