#!/usr/bin/env bash
# Checks a machine's GPU for SAMed.NET in one run: builds with the CUDA libtorch, runs `samed doctor` on the device,
# the parity tests on the device (SAMED_TEST_DEVICE) and a short smoke training on it, then prints one summary.
# Exit code 0 only if every part passed. Logs are kept in runs/gpu-check/.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/gpu-check.sh [--device cuda|cuda:N|cpu] [--backend cuda|external|cpu] [--steps N] [--no-bench]

  --device    where doctor, the parity tests and the smoke training run (default: cuda)
  --backend   the libtorch runtime the build uses (MSBuild TorchBackend, see build/TorchRuntime.targets):
              cuda     libtorch-cuda-12.8-linux-x64 2.10.0 from your NuGet sources (default)
              external no runtime package: a CUDA libtorch 2.10 on the library path (LD_LIBRARY_PATH)
              cpu      libtorch-cpu-linux-x64 (only with --device cpu: a dry run of this script)
  --steps     iterations of the smoke training (default: 50)
  --no-bench  doctor without its timed vit_b 512 forward and training step

The cuda backend needs the libtorch-cuda-12.8-linux-x64 package (about 2.5 GB) from your package sources; it was
not available where this script was written, so its CUDA path has only been checked for syntax there.
Reference cases are read from ../shared/reference when present (or $SAMED_SHARED/reference).
EOF
}

device=cuda
backend=cuda
steps=50
bench=()
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="${2:?--device needs a value}"; shift 2 ;;
    --backend) backend="${2:?--backend needs a value}"; shift 2 ;;
    --steps) steps="${2:?--steps needs a value}"; shift 2 ;;
    --no-bench) bench=(--no-bench); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
case "$backend" in cpu|cuda|external) ;; *) echo "gpu-check: --backend must be cpu, cuda or external, not '$backend'" >&2; exit 2 ;; esac
if [ "$backend" = cpu ] && [ "$device" != cpu ]; then
  echo "gpu-check: the cpu backend has no CUDA; use --backend cuda or external for --device $device" >&2
  exit 2
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
logs="$repo/runs/gpu-check"
rm -rf "$logs"
mkdir -p "$logs"
samed="$repo/src/SAMed.Train/bin/Release/net10.0/samed"

echo "== build (TorchBackend=$backend)"
build_status=0
dotnet build SAMed.sln -c Release -p:TorchBackend="$backend" >"$logs/build.log" 2>&1 || build_status=$?
tail -n 3 "$logs/build.log"

doctor_status=skipped
tests_line="not run"
tests_ok=0
train_status=skipped
train_line=""
if [ "$build_status" -eq 0 ]; then
  echo "== samed doctor --device $device ${bench[*]}"
  doctor_status=0
  # pipefail: the pipeline fails with doctor's exit code (tee's is 0).
  "$samed" doctor --device "$device" "${bench[@]}" 2>&1 | tee "$logs/doctor.log" || doctor_status=$?

  echo "== parity tests on $device (SAMED_TEST_DEVICE=$device dotnet test --filter Category=Parity)"
  tests_status=0
  SAMED_TEST_DEVICE="$device" dotnet test tests/SAMed.Core.Tests -c Release --no-build --filter Category=Parity \
    >"$logs/parity-tests.log" 2>&1 || tests_status=$?
  passed=$(grep -Eo 'Passed: +[0-9]+' "$logs/parity-tests.log" | awk '{s += $2} END {print s + 0}')
  failed=$(grep -Eo 'Failed: +[0-9]+' "$logs/parity-tests.log" | awk '{s += $2} END {print s + 0}')
  skipped=$(grep -Eo 'Skipped: +[0-9]+' "$logs/parity-tests.log" | awk '{s += $2} END {print s + 0}')
  tests_line="$passed passed, $failed failed, $skipped skipped (exit $tests_status)"
  # A run where everything was skipped checked nothing.
  if [ "$tests_status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; then tests_ok=1; fi
  tail -n 2 "$logs/parity-tests.log"

  echo "== smoke training: samed train --device $device --max-steps $steps"
  train_status=0
  start=$(date +%s)
  "$samed" train --device "$device" --max-steps "$steps" --output "$logs/runs" >"$logs/train.log" 2>&1 || train_status=$?
  train_line="$(( $(date +%s) - start )) s; $(grep -v '^\s*$' "$logs/train.log" | tail -n 1)"
  tail -n 3 "$logs/train.log"
fi

ok() { if [ "$1" = 0 ]; then echo "ok"; else echo "FAILED ($1)"; fi; }
all=0
[ "$build_status" -eq 0 ] && [ "$doctor_status" = 0 ] && [ "$tests_ok" -eq 1 ] && [ "$train_status" = 0 ] || all=1
echo
echo "== gpu-check summary (device $device, backend $backend; logs in runs/gpu-check/)"
echo "build:          $(ok "$build_status")"
echo "doctor:         $(ok "$doctor_status")$( [ -f "$logs/doctor.log" ] && echo "; $(tail -n 1 "$logs/doctor.log")")"
echo "parity tests:   $([ "$tests_ok" -eq 1 ] && echo ok || echo FAILED); $tests_line"
echo "smoke training: $(ok "$train_status")${train_line:+; $train_line}"
echo "result:         $([ "$all" -eq 0 ] && echo PASS || echo FAIL)"
exit "$all"
