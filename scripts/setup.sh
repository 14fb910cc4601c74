#!/usr/bin/env bash
# Installs everything troupe needs on a fresh Debian 12 machine. Idempotent: a second run
# only checks. Packages come from Debian's apt; the llama.cpp reference (a test oracle and
# benchmark peer, never linked into troupe) comes from the npm registry into .deps/.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  build-essential cmake ninja-build pkg-config git
  libcaf-dev libzmq3-dev cppzmq-dev libmsgpack-cxx-dev libyaml-cpp-dev libfmt-dev doctest-dev
  libexpected-dev libcpp-httplib-dev nlohmann-json3-dev libcli11-dev
  python3-numpy python3-torch libopenblas0-pthread python3-zmq python3-msgpack
  nodejs npm
)

missing=()
for p in "${apt_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# node/npm may come from elsewhere on a machine (e.g. nvm); accept any working npm.
if command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]:-}"
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# llama.cpp reference: prebuilt CPU libraries + matching source bundle (llama.h, tokenizer
# test vocabularies). Pinned versions; unpacked with `npm pack` so no install scripts run.
llama_version=3.22.1
deps=.deps
stamp="$deps/llama-$llama_version.ok"
if [ ! -f "$stamp" ]; then
  echo "setup: fetching llama.cpp reference $llama_version from npm into $deps/"
  rm -rf "$deps/llama" "$deps/pack"
  mkdir -p "$deps/pack" "$deps/llama"
  (cd "$deps/pack" && npm pack --silent "@node-llama-cpp/linux-x64@$llama_version" "node-llama-cpp@$llama_version" >/dev/null)
  mkdir -p "$deps/pack/bin" "$deps/pack/src"
  tar -xzf "$deps"/pack/node-llama-cpp-linux-x64-*.tgz -C "$deps/pack/bin"
  tar -xzf "$deps"/pack/node-llama-cpp-"$llama_version".tgz -C "$deps/pack/src"
  mv "$deps/pack/bin/package/bins/linux-x64" "$deps/llama/lib"
  git -c advice.detachedHead=false clone -q "$deps/pack/src/package/llama/gitRelease.bundle" "$deps/llama/src"
  rm -rf "$deps/pack"
  touch "$stamp"
fi
echo "setup: ok"
