#!/usr/bin/env bash
# Build caja's container image: a statically linked caja (glibc, +crt-static) in its
# own target directory (target/static, so the normal target/ build stays valid), then
# `podman build` of the FROM scratch Containerfile at the repository's root.
#
#   container/build.sh                 # tags caja:latest
#   CAJA_IMAGE=caja:ci container/build.sh
#   CONTAINER_ENGINE=docker container/build.sh
#
# Prints the image's tag as its last line. Needs Rust (the x86_64-unknown-linux-gnu
# target, the usual host one), podman (or docker) and binutils' strip (optional).
set -euo pipefail
cd "$(dirname "$0")/.."

image="${CAJA_IMAGE:-caja:latest}"
engine="${CONTAINER_ENGINE:-podman}"
target=x86_64-unknown-linux-gnu
target_dir=target/static

command -v "$engine" >/dev/null || { echo "container/build.sh: $engine is not installed (Debian: apt-get install podman runc)" >&2; exit 1; }

# Run from a cargo process (tests/container.rs), the environment holds the variables
# cargo sets for a package (CARGO_MANIFEST_DIR, CARGO_PKG_NAME, …); ring's build script
# reruns when they change, so they would rebuild ring and all above it each time the
# test and a shell take turns. And CARGO_ENCODED_RUSTFLAGS would override RUSTFLAGS.
for var in $(compgen -e | grep -E '^CARGO_(PKG_|MANIFEST_|CRATE_|BIN_|PRIMARY_|TARGET_TMPDIR|ENCODED_RUSTFLAGS)' || true); do
  unset "$var"
done

echo "== static build: cargo build --release --target $target (CARGO_TARGET_DIR=$target_dir)" >&2
RUSTFLAGS='-C target-feature=+crt-static' CARGO_TARGET_DIR="$target_dir" \
  cargo build --release --target "$target" --bin caja
binary="$target_dir/$target/release/caja"
# A dynamically linked binary would not start in a FROM scratch image; say so here.
if command -v readelf >/dev/null && LC_ALL=C readelf -l "$binary" | grep -q 'Requesting program interpreter'; then
  echo "container/build.sh: $binary is not statically linked" >&2
  exit 1
fi

# The build context: the binary and the two empty directories the image needs.
context="$target_dir/image"
rm -rf "$context"
mkdir -p "$context/data" "$context/tmp"
chmod 0755 "$context/data"
chmod 1777 "$context/tmp"
cp "$binary" "$context/caja"
if command -v strip >/dev/null; then strip "$context/caja"; fi

echo "== $engine build -t $image" >&2
"$engine" build --file Containerfile --tag "$image" "$context" >&2
echo "$image"
