#!/usr/bin/env bash
# Vendor the browser libraries the web pages use into kizuna/web/static/vendor/<lib>/.
# The result is committed, so `make run` needs neither npm nor the network; rerun this only
# to upgrade, then commit the changed files. Pin versions here so a rerun is reproducible.
set -euo pipefail
cd "$(dirname "$0")/.."

LEAFLET_VERSION="${LEAFLET_VERSION:-1.9.4}"
GEOMAN_VERSION="${GEOMAN_VERSION:-2.17.0}"
AXE_VERSION="${AXE_VERSION:-4.10.2}"

command -v npm >/dev/null || { echo "npm is needed to vendor front-end libraries" >&2; exit 1; }

VENDOR=kizuna/web/static/vendor
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# `npm pack` downloads the published tarball only: no install scripts run, no dependency tree.
fetch() {
  local package="$1" version="$2"
  (cd "$WORK" && npm pack --silent "${package}@${version}" >/dev/null)
  local tarball
  tarball="$(ls "$WORK"/*.tgz)"
  rm -rf "$WORK/package"
  tar -xzf "$tarball" -C "$WORK"
  rm -f "$tarball"
}

rm -rf "$VENDOR"
mkdir -p "$VENDOR/leaflet" "$VENDOR/leaflet-geoman-free" "$VENDOR/axe-core"

fetch leaflet "$LEAFLET_VERSION"
cp "$WORK/package/dist/leaflet.js" "$WORK/package/dist/leaflet.css" "$VENDOR/leaflet/"
cp -r "$WORK/package/dist/images" "$VENDOR/leaflet/"
cp "$WORK/package/LICENSE" "$VENDOR/leaflet/LICENSE"
echo "leaflet $(node -p "require('$WORK/package/package.json').version")"

fetch @geoman-io/leaflet-geoman-free "$GEOMAN_VERSION"
cp "$WORK/package/dist/leaflet-geoman.js" "$WORK/package/dist/leaflet-geoman.css" \
  "$VENDOR/leaflet-geoman-free/"
cp "$WORK/package/LICENSE" "$VENDOR/leaflet-geoman-free/LICENSE"
echo "leaflet-geoman-free $(node -p "require('$WORK/package/package.json').version")"

fetch axe-core "$AXE_VERSION"
cp "$WORK/package/axe.min.js" "$VENDOR/axe-core/"
cp "$WORK/package/LICENSE" "$VENDOR/axe-core/LICENSE"
echo "axe-core $(node -p "require('$WORK/package/package.json').version")"
