#!/usr/bin/env bash
# Makes a local stand-in for the Dockerfile's default base image (node:24-bookworm-slim) on a
# machine that reaches Debian's mirror and the npm registry but no container registry:
#
#   scripts/container-base.sh [tag]        # default tag: localhost/pyrepo-node-base:24
#   podman build --build-arg NODE_IMAGE=localhost/pyrepo-node-base:24 -t pyrepo .
#
# A Debian bookworm root filesystem from debootstrap (minbase), the Node binary and headers
# from the npm registry's node-linux-<arch> package (the one .ci/run tests with) and npm
# from the npm registry, laid out as the official image lays them out (/usr/local). Nothing
# is pulled from a container registry. Needs root, debootstrap and podman.
#
# Environment: NODE_MAJOR (24), NPM_MAJOR (11, the npm Node 24 ships), DEBIAN_MIRROR
# (http://deb.debian.org/debian), FORCE=1 to make it again when the tag exists.
set -euo pipefail

tag=${1:-localhost/pyrepo-node-base:24}
node_major=${NODE_MAJOR:-24}
npm_major=${NPM_MAJOR:-11}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

for cmd in debootstrap podman npm tar; do
  command -v "$cmd" >/dev/null || { echo "container-base: $cmd is missing (apt-get install debootstrap podman; npm comes with Node)." >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "container-base: debootstrap needs root; run it with sudo." >&2; exit 1; }

if [ "${FORCE:-0}" != 1 ] && podman image exists "$tag"; then
  echo "container-base: $tag exists (FORCE=1 makes it again)."
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "container-base: no node-linux package for $(uname -m)." >&2; exit 1 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

echo "container-base: Debian bookworm from $mirror"
debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -20 "$work/debootstrap.log" >&2
  exit 1
}

echo "container-base: node-linux-$arch@$node_major and npm@$npm_major from the npm registry"
(cd "$work" && npm pack --silent "node-linux-$arch@$node_major" "npm@$npm_major" >packed.txt)
mkdir -p "$work/node" "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/$(sed -n 1p "$work/packed.txt")" -C "$work/node" --strip-components=1
tar -xzf "$work/$(sed -n 2p "$work/packed.txt")" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
install -m 0755 "$work/node/bin/node" "$rootfs/usr/local/bin/node"
cp -r "$work/node/include" "$rootfs/usr/local/"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# Authorities this machine added itself (a company proxy's, say) go in too, so that npm and
# apt inside the build trust what this machine trusts; Node reads them through
# NODE_EXTRA_CA_CERTS. The official image has none, and needs none on an open network.
extra_ca=()
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
  extra_ca=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
fi

# As slim as the official image: no package lists, caches or documentation.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
chroot "$rootfs" node --version >/dev/null

tar -C "$rootfs" --numeric-owner -c . |
  podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$("$work/node/bin/node" --version | cut -c2-)" \
    "${extra_ca[@]}" \
    --change 'CMD ["node"]' \
    --quiet - "$tag" >/dev/null
echo "container-base: made $tag ($(chroot "$rootfs" node --version), npm $(chroot "$rootfs" npm --version 2>/dev/null || echo '?'))"
