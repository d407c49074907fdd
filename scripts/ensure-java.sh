#!/usr/bin/env bash
# Java 17+ for Spark (kade[spark], tests/test_spark.py): installs Debian's headless
# OpenJDK when no java 17+ is on the PATH. Run as root (CI, a fresh machine).
set -euo pipefail
major() { java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]; exit}'; }
if command -v java >/dev/null 2>&1 && [ "$(major)" -ge 17 ] 2>/dev/null; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq openjdk-17-jre-headless >/dev/null
java -version
