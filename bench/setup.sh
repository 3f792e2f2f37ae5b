#!/usr/bin/env bash
# Installs what the macro bench needs from the system: wrk, nginx, taskset,
# h2load (HTTP/2 load generator, Debian package nghttp2-client) and openssl
# (test certificates for the TLS runs).
# Idempotent: does nothing when all of them are present. Debian/Ubuntu (apt-get).
# `npm run bench` runs this itself when something is missing (--no-setup skips).
set -euo pipefail

have_nginx() {
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || [ -x /usr/local/sbin/nginx ]
}

need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
have_nginx || need+=(nginx)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)

if [ ${#need[@]} -eq 0 ]; then
  echo "bench/setup.sh: wrk, nginx, taskset, h2load and openssl are installed"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "bench/setup.sh: no apt-get here; install these by hand: ${need[*]}" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "bench/setup.sh: need root (or sudo) to install: ${need[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "bench/setup.sh: installing ${need[*]}"

# Installing nginx from Debian starts it as a system service on port 80. The
# bench runs its own nginx; keep the package from starting one, by the usual
# policy-rc.d guard, unless the machine already has a policy.
guard=""
if [[ " ${need[*]} " == *" nginx "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
  guard=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$guard" >/dev/null
  "${SUDO[@]}" chmod 755 "$guard"
  trap '"${SUDO[@]}" rm -f "$guard"' EXIT
fi

"${SUDO[@]}" apt-get update -qq

pkgs=()
for p in "${need[@]}"; do
  if [ "$p" = nginx ]; then
    # nginx-light is the smallest build with the proxy and upstream modules
    # (Debian 12 and older); newer releases only ship "nginx".
    if apt-cache show nginx-light >/dev/null 2>&1; then pkgs+=(nginx-light); else pkgs+=(nginx); fi
  else
    pkgs+=("$p")
  fi
done
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}"

command -v wrk >/dev/null 2>&1 || { echo "bench/setup.sh: wrk still missing" >&2; exit 1; }
have_nginx || { echo "bench/setup.sh: nginx still missing" >&2; exit 1; }
command -v taskset >/dev/null 2>&1 || { echo "bench/setup.sh: taskset still missing" >&2; exit 1; }
command -v h2load >/dev/null 2>&1 || { echo "bench/setup.sh: h2load still missing" >&2; exit 1; }
command -v openssl >/dev/null 2>&1 || { echo "bench/setup.sh: openssl still missing" >&2; exit 1; }
echo "bench/setup.sh: done"
