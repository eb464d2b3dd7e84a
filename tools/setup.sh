#!/usr/bin/env bash
# Set up everything the notebooks and tests need: system packages when we can, then a venv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
SYSTEM_PACKAGES="portaudio19-dev espeak-ng libsndfile1"

missing=""
for pkg in $SYSTEM_PACKAGES; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing system packages:$missing"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >/dev/null \
      || echo "setup: apt-get failed; carrying on without:$missing"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "setup: installing system packages with sudo:$missing"
    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >/dev/null \
      || echo "setup: apt-get failed; carrying on without:$missing"
  else
    echo "setup: cannot install$missing (no root/apt); pyaudio and speech synthesis will be skipped"
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
if "$VENV/bin/python" -m pip install -q --disable-pip-version-check "pyaudio>=0.2.13" >/dev/null 2>&1; then
  echo "setup: pyaudio installed (live microphone and speaker available where a device exists)"
else
  echo "setup: pyaudio not installed (needs portaudio19-dev); playback uses the virtual player"
fi
touch "$VENV/.installed"
