#!/usr/bin/env bash
# Debian packages nnopt's data sets and tests use: the real Fashion-MNIST IDX files, the WordNet 3.0
# lexicon and Chromium (the browser tests drive it with playwright). Installs what is missing when
# run as root; otherwise says what to install.
set -euo pipefail
packages=(dataset-fashion-mnist wordnet-base chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: not installing ${missing[*]} (needs root and apt-get); tests that need them are skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
