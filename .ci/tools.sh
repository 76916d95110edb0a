#!/usr/bin/env bash
# Install the real tools the test suite uses (Debian/Ubuntu, as root), only if any is missing.
# `make test` runs this first, so the README's test command works on a fresh machine; CI
# (.ci/run) gets them the same way. No test skips for lack of a tool: they must be here.
set -euo pipefail

# command or file that proves it is there -> Debian package
declare -A NEEDS=(
    [gcc]=gcc [g++]=g++ [make]=make [readelf]=binutils [file]=file
    [musl-gcc]=musl-tools [go]=golang-go
    [aarch64-linux-gnu-gcc]=gcc-aarch64-linux-gnu
    [/usr/aarch64-linux-gnu/lib/libc.so.6]=libc6-dev-arm64-cross
    [qemu-aarch64-static]=qemu-user-static [lddtree]=pax-utils
    [umoci]=umoci [skopeo]=skopeo [buildah]=buildah
    [unshare]=util-linux [dpkg-deb]=dpkg [git]=git
    [/usr/include/stdio.h]=libc6-dev [/etc/ssl/certs/ca-certificates.crt]=ca-certificates
    [/usr/bin/time]=time
)

# The fixture bases are assembled with `apt-get download`: it needs package lists.
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1 \
        && ! compgen -G "/var/lib/apt/lists/*Packages*" >/dev/null; then
    apt-get update -qq
fi

missing=()
for probe in "${!NEEDS[@]}"; do
    if [[ $probe == /* ]]; then [[ -e $probe ]] && continue
    else command -v "$probe" >/dev/null 2>&1 && continue
    fi
    missing+=("${NEEDS[$probe]}")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "error: the tests need these Debian packages: ${missing[*]}" >&2
    echo "       install them as root (apt-get install ${missing[*]}) and run make test again" >&2
    exit 1
fi
echo "installing test tools: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
