#!/usr/bin/env bash
# Puts a current pip wheel (Debian trixie's python3-pip-whl: pip 25) into the folder given
# as $1, for the tests of what pip 23.2 and later do (PEP 714's core-metadata in JSON pages).
# Debian 12 itself ships only pip 23.0, and nothing here comes from PyPI. Nothing is installed on the
# system: apt reads trixie's package list into a private folder, downloads the one .deb and
# the wheel is taken out of it. Prints the wheel's path. Idempotent; safe to run twice at once.
set -euo pipefail

dest=${1:?usage: fetch-current-pip.sh FOLDER}
mkdir -p "$dest"
found=$(find "$dest" -maxdepth 1 -name 'pip-*-py3-none-any.whl' | sort | tail -n 1)
if [ -n "$found" ]; then
  echo "$found"
  exit 0
fi

work=$(mktemp -d "$dest/.fetch-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo 'deb http://deb.debian.org/debian trixie main' >"$work/sources.list"
apt_opts=(
  -o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
  -o APT::Sandbox::User=root -qq
)
apt-get "${apt_opts[@]}" update >&2
(cd "$work" && apt-get "${apt_opts[@]}" download python3-pip-whl/trixie >&2)
dpkg-deb -x "$work"/python3-pip-whl_*.deb "$work/x"
wheel=$(find "$work/x/usr/share/python-wheels" -name 'pip-*-py3-none-any.whl' | head -n 1)
[ -n "$wheel" ] || { echo "python3-pip-whl from trixie holds no pip wheel" >&2; exit 1; }
# A rename within one folder: another run at the same time sees the whole file or none.
cp "$wheel" "$work/$(basename "$wheel")"
mv "$work/$(basename "$wheel")" "$dest/$(basename "$wheel")"
echo "$dest/$(basename "$wheel")"
