# syntax=docker/dockerfile:1
# DecentralML: node-decentralml, Kubo (IPFS) and the Python package in one image whose
# entrypoint runs the dev stack (`decentralml dev up --foreground`): a --dev chain, a private
# IPFS daemon and the demo federation, with the node's RPC on port 9944 for Polkadot-JS Apps.
#
#   docker build -t decentralml .                      # first build: about an hour on 2 cores
#   docker run --rm -p 9944:9944 -v dml-state:/state decentralml
#   docker run --rm -p 9944:9944 decentralml --no-demo # extra arguments go to `dev up`
#   docker compose up                                  # three validators + trainers (compose file)
#
# The build stage runs the same set-up scripts as CI (scripts/setup, scripts/build-node); this
# file only calls them and copies their results into a slim runtime stage.

# ---- build: toolchains, Python environment, Kubo and the node --------------------------------
FROM debian:bookworm AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# What scripts/setup expects to find already (it installs the Rust toolchain itself):
# Python 3.11 with venv, Node.js/npm (compat test packages), Go for building Kubo.
# Debian's point releases are the pin: package versions are not pinned one by one.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates curl git build-essential pkg-config python3 python3-venv nodejs npm \
 && rm -rf /var/lib/apt/lists/*

# Kubo 0.43 needs a newer Go than bookworm ships; the official release, checked by its sha256.
ARG GO_VERSION=1.26.8
ARG GO_SHA256=
RUN curl -fsSL -o /tmp/go.tgz "https://go.dev/dl/go${GO_VERSION}.linux-amd64.tar.gz" \
 && if [ -n "${GO_SHA256}" ]; then echo "${GO_SHA256}  /tmp/go.tgz" | sha256sum -c -; fi \
 && tar -C /usr/local -xzf /tmp/go.tgz \
 && rm /tmp/go.tgz
ENV PATH=/usr/local/go/bin:$PATH \
    DECENTRALML_CACHE=/cache \
    DECENTRALML_STATE=/state \
    CARGO_TARGET_DIR=/cache/target

WORKDIR /opt/decentralml
COPY . .
RUN scripts/setup && scripts/build-node \
 && install -D -m 0755 /cache/target/debug/node-decentralml /out/bin/node-decentralml \
 && install -D -m 0755 "$(readlink -f /cache/tools/ipfs)" /out/bin/ipfs

# ---- runtime: the two binaries and the Python environment ------------------------------------
FROM debian:bookworm-slim AS runtime
# tini is PID 1: it forwards SIGTERM to the dev stack (which then stops every child) and reaps
# orphans. Python 3.11 is the interpreter the venv was built with.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --create-home --home-dir /home/dml \
      --shell /usr/sbin/nologin dml \
 && install -d -o 10001 -g 10001 /state

COPY --from=build /out/bin/ /usr/local/bin/
# The venv holds an editable install of the package, so the sources keep their build paths.
COPY --from=build /opt/decentralml/.venv /opt/decentralml/.venv
COPY --from=build /opt/decentralml/core /opt/decentralml/core
COPY --from=build /opt/decentralml/tui /opt/decentralml/tui
COPY --from=build /opt/decentralml/pyproject.toml /opt/decentralml/README.md /opt/decentralml/

ENV PATH=/opt/decentralml/.venv/bin:$PATH \
    DML_NODE_BIN=/usr/local/bin/node-decentralml \
    DML_IPFS_BIN=/usr/local/bin/ipfs \
    DECENTRALML_STATE=/state \
    PYTHONUNBUFFERED=1

USER 10001
WORKDIR /home/dml
VOLUME ["/state"]
# 9944: node RPC (WebSocket + HTTP) for Polkadot-JS Apps and the CLI/console.
EXPOSE 9944
# Healthy once the node answers RPC (exit code 3 while it does not).
HEALTHCHECK --interval=15s --timeout=10s --start-period=180s \
  CMD ["decentralml", "--json", "chain", "info"]
ENTRYPOINT ["/usr/bin/tini", "--", "decentralml", "dev", "up", "--foreground", "--rpc-external"]
