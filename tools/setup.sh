#!/usr/bin/env bash
# Set up everything the notebooks, the website and the tests need: system packages when we can, then a venv.
# It says one line per step: what is installed, and why when it is optional.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
START=$SECONDS

say() { echo "setup: $*"; }

# Debian package -> why the series wants it
declare -A WHY=(
  [portaudio19-dev]="builds pyaudio: microphone and speaker for the live lessons (optional: a virtual player stands in)"
  [espeak-ng]="synthesizes the speech of the shipped cassettes (optional: only tools/synthesize_cassettes.py needs it)"
  [libsndfile1]="reads and writes wav files (soundfile)"
  [chromium]="the browser the browser test drives (make test; optional for make lab)"
  [fonts-wqy-microhei]="Chinese glyphs for the browser test's screenshots of the Chinese site (optional for make lab)"
)
missing=() present=()
for pkg in portaudio19-dev espeak-ng libsndfile1 chromium fonts-wqy-microhei; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then present+=("$pkg"); else missing+=("$pkg"); fi
done
[ ${#present[@]} -eq 0 ] || say "system packages already installed: ${present[*]}"
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo
  else SUDO=none; fi
  if [ "$SUDO" = none ] || ! command -v apt-get >/dev/null 2>&1; then
    for pkg in "${missing[@]}"; do say "cannot install $pkg (needs apt-get as root or passwordless sudo): ${WHY[$pkg]}"; done
  else
    say "apt-get update (to install ${missing[*]})"
    $SUDO apt-get update -qq >/dev/null || say "apt-get update failed; trying the install anyway"
    for pkg in "${missing[@]}"; do
      say "installing $pkg: ${WHY[$pkg]}"
      $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null \
        || say "apt-get could not install $pkg; carrying on without it"
    done
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating the virtual environment $VENV ($("$PY" --version))"
  "$PY" -m venv "$VENV"
fi
say "upgrading pip in $VENV"
"${PIP[@]}" --upgrade pip
say "installing requirements.txt: the helpers' runtime, JupyterLab, the test tools, the website builder, Playwright"
"${PIP[@]}" -r requirements.txt
say "installing the helpers package from this checkout (editable)"
out=$("${PIP[@]}" --no-deps -e . 2>&1) || { echo "$out"; exit 1; }  # on success, only setuptools' chatter
if "${PIP[@]}" "pyaudio>=0.2.13" >/dev/null 2>&1; then
  say "installed pyaudio (optional): live microphone and speaker where a device exists"
else
  say "skipped pyaudio (optional; needs portaudio19-dev): playback uses the virtual player"
fi
touch "$VENV/.installed"
say "ready in $((SECONDS - START)) s"
