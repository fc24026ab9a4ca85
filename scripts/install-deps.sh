#!/usr/bin/env bash
# Installs the system packages pipe builds against, if any are missing (Debian/Ubuntu, apt-get).
# Extra package names may be passed as arguments (servers a test needs, say).
set -euo pipefail

packages=(libopenblas-dev libarchive-dev libjpeg-dev libpng-dev libyaml-dev "$@")
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "installing system packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "error: missing ${missing[*]}; install them as root: apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null; then
  echo "error: no Swift toolchain on PATH; pipe needs Swift 6.1 or newer (https://www.swift.org/install/linux/)" >&2
  exit 2
fi
