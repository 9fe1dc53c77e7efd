# The README's commands. Every target installs what is missing (and only that), so a
# fresh clone on a fresh machine needs nothing but rustup, Node.js and npm.

SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO_LEPTOS_VERSION := 0.3.11
# The wasm-bindgen CLI must match the wasm-bindgen crate exactly: read it from the lockfile.
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' Cargo.lock)
CARGO_BIN := $(or $(CARGO_INSTALL_ROOT),$(CARGO_HOME),$(HOME)/.cargo)/bin
# wasm-opt comes from the npm package `binaryen` (Debian's is too old and breaks hydration).
export PATH := $(CURDIR)/end2end/node_modules/.bin:$(CARGO_BIN):$(PATH)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The account page's island as a wasm module of its own, so the checkout does not
# download it (Cargo.toml, feature `split-islands`; README, "Performance").
SPLIT := --split --features split-islands

# The end-to-end run gets a database of its own, recreated each time.
E2E_DB := $(CURDIR)/target/e2e/storefront.db

.PHONY: help dev test test-suites lint bench screenshots tools toolchain cargo-leptos wasm-bindgen npm chromium smtp conformance wrk

help:
	@echo "make dev    - run the storefront with live reload on http://127.0.0.1:3000"
	@echo "make test   - every Rust test, then the Playwright suite against a release build"
	@echo "make bench  - the storefront against a Node.js/Express reference, side by side, then a 3-minute soak (about 15 minutes)"

dev: tools
	cargo leptos watch $(SPLIT)

# scripts/with-postgres starts a throwaway PostgreSQL (Debian's, installed if missing)
# unless TEST_POSTGRES_URL names one, and stops it when the tests end.
test: tools
	scripts/with-postgres $(MAKE) --no-print-directory test-suites

# Every integration suite runs again with its storefronts on PostgreSQL, unless its file
# says why not with a `//! Backend: runs once` line.
# The merchant's password on the end-to-end server (end2end/tests/refunds.spec.ts signs in with it).
E2E_ADMIN_TOKEN := e2e-merchant-token-0123456789
POSTGRES_SUITES := $(basename $(notdir $(shell grep -L '^//! Backend: runs once' tests/*.rs)))

# The store's tests run on both backends (src/store/testing.rs); the app's integration
# suites run on SQLite, then again on PostgreSQL. Lints first: they are the fastest to fail.
test-suites: lint
	cargo test --features ssr
	TEST_DATABASE=postgres cargo test --features ssr $(addprefix --test ,$(POSTGRES_SUITES))
	cargo test -p stripe-emulator
	$(MAKE) conformance
	rm -f $(E2E_DB) $(E2E_DB)-wal $(E2E_DB)-shm && mkdir -p $(dir $(E2E_DB))
	rm -f target/e2e/results.json
	rm -rf target/mail
	DATABASE_URL=sqlite://$(E2E_DB) ADMIN_TOKEN=$(E2E_ADMIN_TOKEN) cargo leptos end-to-end --release --precompress $(SPLIT)
	node scripts/e2e-passed.mjs target/e2e/results.json

# Formatting, and clippy with warnings as errors on the server build (with and without
# the embedded emulator), the browser (wasm) build and the emulator.
lint:
	cargo fmt --all -- --check
	cargo clippy --features ssr --all-targets -- -D warnings
	cargo clippy --no-default-features --features ssr -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --features hydrate,split-islands -- -D warnings
	cargo clippy -p stripe-emulator --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --document-private-items --features ssr -p storefront -p stripe-emulator
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --document-private-items --lib --target wasm32-unknown-unknown --no-default-features --features hydrate,split-islands

# The README's pictures: taken by the Playwright suite during `make test`.
screenshots:
	@test -n "$$(ls target/screenshots/*.png 2>/dev/null)" || { echo "no screenshots yet: run make test first"; exit 1; }
	mkdir -p docs/screenshots && cp target/screenshots/*.png docs/screenshots/

# Both servers, one Stripe emulator, wrk as the load generator (benches/README.md).
bench: tools wrk benches/reference-node/node_modules/.package-lock.json benches/runner/node_modules/.package-lock.json
	cargo leptos build --release --precompress $(SPLIT)
	cargo build --release -p stripe-emulator
	node benches/runner/run.mjs
	node benches/runner/soak.mjs

benches/reference-node/node_modules/.package-lock.json: benches/reference-node/package-lock.json benches/reference-node/package.json
	cd benches/reference-node && npm ci --no-audit --no-fund

benches/runner/node_modules/.package-lock.json: benches/runner/package-lock.json benches/runner/package.json
	cd benches/runner && npm ci --no-audit --no-fund

# The load generator: Debian's wrk (4.1.0 on Debian 12).
wrk:
	@if ! command -v wrk >/dev/null; then \
		echo "installing Debian's wrk"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk; \
	fi

# Stripe's official Node and Python SDKs drive the emulator (stripe-emulator/conformance/).
PYTHON_SDK := stripe-emulator/conformance/python/.venv
conformance: stripe-emulator/conformance/node_modules/.package-lock.json $(PYTHON_SDK)/installed
	cargo build -p stripe-emulator
	cd stripe-emulator/conformance && npm test
	$(PYTHON_SDK)/bin/python -m unittest discover -s stripe-emulator/conformance/python

# The Python SDK in a virtual environment of its own, at the version requirements.txt pins.
$(PYTHON_SDK)/installed: stripe-emulator/conformance/python/requirements.txt
	python3 -m venv $(PYTHON_SDK)
	$(PYTHON_SDK)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

stripe-emulator/conformance/node_modules/.package-lock.json: stripe-emulator/conformance/package-lock.json stripe-emulator/conformance/package.json
	cd stripe-emulator/conformance && npm ci --no-audit --no-fund

tools: toolchain cargo-leptos wasm-bindgen npm chromium smtp

# rust-toolchain.toml names the toolchain and the wasm32 target; this installs both.
toolchain:
	@rustup toolchain install >/dev/null

cargo-leptos: toolchain
	@if ! cargo leptos --version 2>/dev/null | grep -qF "$(CARGO_LEPTOS_VERSION)"; then \
		echo "installing cargo-leptos $(CARGO_LEPTOS_VERSION) (about 12 minutes)"; \
		cargo install cargo-leptos --version "=$(CARGO_LEPTOS_VERSION)" --locked; \
	fi

# Not --locked: wasm-bindgen-cli's lockfile pins a webpki-roots release the registry
# does not serve; the CLI's own version is still exact.
wasm-bindgen: toolchain
	@if ! wasm-bindgen --version 2>/dev/null | grep -qxF "wasm-bindgen $(WASM_BINDGEN_VERSION)"; then \
		echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION)"; \
		cargo install wasm-bindgen-cli --version "=$(WASM_BINDGEN_VERSION)"; \
	fi

npm: end2end/node_modules/.package-lock.json

end2end/node_modules/.package-lock.json: end2end/package-lock.json end2end/package.json
	cd end2end && npm ci --no-audit --no-fund

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian's chromium"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; \
	fi

# A real SMTP server for the order-email tests (tests/mail.rs): Debian's aiosmtpd.
smtp:
	@if ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then \
		echo "installing Debian's python3-aiosmtpd"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-aiosmtpd; \
	fi
