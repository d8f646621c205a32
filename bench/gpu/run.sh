#!/usr/bin/env bash
# Runs on a lent NVIDIA GPU machine (the device tool), from the repository root, after bench/gpu/prepare.sh packed
# .gpu/ here: unpacks Node, the Vulkan loader and the app, then runs the benchmarks in order of importance, each
# under its own time limit, packing what finished into $OUT/results.tar after each stage, so a cut-off run still
# returns it.
#   device run: carry [".gpu"], command "bash bench/gpu/run.sh"   (STAGES="variants torch" to run fewer)
#   Stage limits in seconds: VARIANTS_S (170), KERNELS_S (240: each case now also times its ceiling probe), TESTS_S,
#   BENCHSWEEP_S (240). `train` (dispatches and CPU recording per step) and `benchsweep` come first: they are the
#   figures issue 14 asks of a GPU. BENCHSWEEP_ROUNDS (1): bench sweep's rounds per K (3 would triple its time).
set -u
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
# Everything goes to $RES, packed into $OUT/results.tar after each stage (the device tool returns at most 8 files).
RES=/tmp/res
mkdir -p "$RES"
repo=$(pwd)
[ -n "${LOCAL_TRY:-}" ] || for f in .gpu/*.deb; do dpkg -x "$f" /; done
ldconfig
xz -dc .gpu/node.xz > /tmp/node && chmod +x /tmp/node
mkdir -p /tmp/w && tar -C /tmp/w -xJf .gpu/app.tar.xz
cp bench/peers/torch_peer.py /tmp/w/app/bench/peers/ 2>/dev/null || true
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] || icd=$(find / -name 'nvidia_icd*.json' -not -path '/proc/*' 2>/dev/null | head -1)
[ -n "$icd" ] && export VK_DRIVER_FILES=$icd
echo "ICD: $icd"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv
cd /tmp/w/app
node=/tmp/node
stages=${STAGES:-"doctor train benchsweep variants torch kernels sweep allreduce tests"}

stage() { tar -C "$RES" -cf "$OUT/results.tar" .; echo; echo "=== $1 ($(date +%T))"; }
for s in $stages; do
  case $s in
    doctor) stage doctor; timeout 60 $node bin/webtrainer.js doctor 2>&1 | tee "$RES/doctor.txt" ;;
    variants) stage variants
      timeout "${VARIANTS_S:-170}" $node dist/bench/matmul-variants.js --check --variants "${VARIANTS:-all}" \
        --shapes "${SHAPES:-4096x4096x4096,2048x2048x2048,1024x1024x1024,2048x256x1024,2048x1024x256,8x256x64x64,256x256x256}" \
        --json "$RES/variants.json" --repeats ${REPEATS:-5} 2>&1 | tee "$RES/variants.txt" ;;
    torch) stage torch; PYTHONUNBUFFERED=1 timeout 90 python3 bench/peers/torch_peer.py --json "$RES/torch.json" 2>&1 | tee "$RES/torch.txt" ;;
    kernels) stage kernels; timeout "${KERNELS_S:-240}" $node bin/webtrainer.js bench kernels --json > "$RES/kernels.json" 2> "$RES/kernels.err"; tail -3 "$RES/kernels.err" ;;
    train) stage train; timeout 90 $node bin/webtrainer.js bench train --json > "$RES/train.json" 2> "$RES/train.err"; tail -3 "$RES/train.err" ;;
    # Issue 14: the fused-sweep benchmark (K = 1..16, slot refill, ASHA): trials/hour against K = 1 on this GPU.
    benchsweep) stage benchsweep; timeout "${BENCHSWEEP_S:-240}" $node bin/webtrainer.js bench sweep --rounds "${BENCHSWEEP_ROUNDS:-1}" --json > "$RES/bench-sweep.json" 2> "$RES/bench-sweep.err"; tail -6 "$RES/bench-sweep.err" ;;
    # Issue 15: all-reduce against the raw socket with a core per rank.
    allreduce) stage allreduce; timeout 120 $node bin/webtrainer.js bench allreduce --json > "$RES/allreduce.json" 2> "$RES/allreduce.err"; tail -3 "$RES/allreduce.err" ;;
    sweep) stage sweep
      for slots in 8 1; do
        timeout 90 $node bin/webtrainer.js sweep --n-trials 8 --slots $slots --storage "sqlite:////tmp/sweep$slots.db" --json \
          > "$RES/sweep-slots$slots.json" 2> "$RES/sweep-slots$slots.err"; tail -2 "$RES/sweep-slots$slots.err"
      done ;;
    tests) stage tests  # The kernel and tensor tests, from the repository's sources, on this GPU.
      (cd "$repo" && ln -sfn /tmp/w/app/node_modules node_modules &&
        timeout "${TESTS_S:-150}" $node node_modules/vitest/vitest.mjs run ${TESTS:-kernels test/tensor} --reporter=dot \
          > "$RES/tests.txt" 2>&1; tail -25 "$RES/tests.txt") ;;
  esac
done
tar -C "$RES" -cf "$OUT/results.tar" .
echo "=== done ($(date +%T))"
