#!/usr/bin/env bash
# Run a command with this machine's study trainings paused (SIGSTOP), and resume them afterwards
# (SIGCONT, also on failure or Ctrl-C): latency timings need a quiet machine, and a 2-core machine
# shared with two 1-thread trainings is not one.
#   bash studies/quiet.sh python benchmarks/bench_latency_predictor.py
set -u
# (not this script itself: its own command line may name one of those scripts)
pids=$(pgrep -f "python[^ ]* studies/(final_protocol|rung_scores|legacy_proxy).py" | grep -vx "$$" | tr '\n' ' ')
resume() { [ -n "$pids" ] && kill -CONT $pids 2>/dev/null; echo "quiet.sh: resumed ${pids:-nothing}" >&2; }
trap resume EXIT INT TERM
[ -n "$pids" ] && kill -STOP $pids
echo "quiet.sh: paused ${pids:-nothing}" >&2
sleep 2
"$@"
