#!/usr/bin/env bash
# Make sure a spreadsheet can be rendered headless to PNG, for the tests that look
# at the kade check report: LibreOffice Calc (soffice), poppler's pdftoppm, and a
# font with Chinese glyphs (the registers are Chinese). Installs Debian's packages
# for whatever is missing (as root); prints the soffice path. Idempotent.
set -euo pipefail

missing=()
command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-calc-nogui)
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
  missing+=(fonts-wqy-zenhei)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing render tools: ${missing[*]}; install them (apt-get install ${missing[*]}) or run this script as root" >&2
    exit 1
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >/dev/null 2>&1 \
    || { echo "apt-get could not install: ${missing[*]}" >&2; exit 1; }
fi
command -v soffice
