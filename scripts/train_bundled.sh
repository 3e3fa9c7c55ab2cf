#!/usr/bin/env bash
# The bundled model's recipe (README, "The bundled model"): the light codec, then fifteen stages of
# `dila.train`, each starting from the one before, then the evaluation. In the background:
#   nohup bash scripts/train_bundled.sh > bundled.log 2>&1 &
# Rerun the same command after a stop: finished stages are skipped and the running one resumes from its
# last save (every 15 minutes at least; the codec, under 15 minutes, starts again). THREADS sets torch's
# threads (default: every core); every step count is divided by SCALE (SCALE=1000 is a smoke test);
# RUN=echo prints the commands instead of running them.
# Writes OUT/codec, OUT/stage1..15 and OUT/stage15/eval.json; ship OUT/stage15's config.json and
# model.safetensors with OUT/codec as checkpoints/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tcmalloc.sh
OUT=${OUT:-runs/bundled}
SCALE=${SCALE:-1}
export OMP_NUM_THREADS=${THREADS:-$(nproc)}
RUN=${RUN:-}
steps() { echo $(( ($1 + SCALE - 1) / SCALE )); }
train() { $RUN python -m dila.train --codec "$OUT/codec" "$@"; }
mkdir -p "$OUT"

[ -f "$OUT/codec/model.safetensors" ] || $RUN python -m dila.codecs.train_light --out "$OUT/codec" \
    --steps "$(steps 4000)" --batch 32 --seed 0 --threads "$OMP_NUM_THREADS"

# Stages 1-9: the small design without and then with the pixel warp; oracle and detached-dynamics terms.
COMMON="--phase 1 --batch-size 12 --frames 6 --save-every 250 --oracle-weight 4 --detached-dynamics-weight 1"
PHASE2="--phase 2 --batch-size 6 --frames 8 --save-every 100 --oracle-weight 4 --detached-dynamics-weight 1 --symmetry-weight 0"
STAGE1="$COMMON --lr 1e-3 --warmup 100 --model-config configs/bundled-stage1.json"
train --out "$OUT/stage1" $STAGE1 --steps "$(steps 3600)" --stop-after "$(steps 1000)"
train --out "$OUT/stage1" $STAGE1 --steps "$(steps 3000)" --stop-after "$(steps 1250)" --symmetry-weight 0.02
train --out "$OUT/stage1" $STAGE1 --steps "$(steps 2800)" --symmetry-weight 0.02
train --out "$OUT/stage2" $COMMON --init "$OUT/stage1" --model-config configs/bundled-stage2.json \
    --lr 5e-4 --warmup 50 --steps "$(steps 3000)" --symmetry-weight 0
train --out "$OUT/stage3" $PHASE2 --init "$OUT/stage2" --lr 3e-4 --warmup 20 --steps "$(steps 300)"
train --out "$OUT/stage4" $PHASE2 --init "$OUT/stage3" --model-config configs/bundled-frame.json \
    --lr 2e-4 --warmup 20 --steps "$(steps 200)"
train --out "$OUT/stage5" $COMMON --init "$OUT/stage4" --model-config configs/bundled-warp.json \
    --lr 3e-4 --warmup 50 --steps "$(steps 1000)" --symmetry-weight 0
train --out "$OUT/stage6" $PHASE2 --init "$OUT/stage5" --lr 3e-4 --warmup 20 --steps "$(steps 300)"
train --out "$OUT/stage7" $COMMON --init "$OUT/stage6" --lr 3e-4 --warmup 50 --steps "$(steps 1200)" \
    --symmetry-weight 0
train --out "$OUT/stage8" $COMMON --init "$OUT/stage7" --lr 3e-4 --warmup 50 --steps "$(steps 1000)" \
    --symmetry-weight 0 --sharpness-weight 2
train --out "$OUT/stage9" $PHASE2 --init "$OUT/stage8" --lr 3e-4 --warmup 20 --steps "$(steps 300)" \
    --sharpness-weight 2

# Stages 10-15: the flowing warp shown in pixels, the motion terms, then the shift picker.
TERMS="--sharpness-weight 2 --motion-weight 1 --readout-weight 0.3 --rest-weight 30 --even-weight 30 --pixel-weight 10"
PHASE1="--phase 1 --batch-size 12 --frames 6 --save-every 100 $TERMS"
LONG="--phase 2 --batch-size 12 --frames 10 --save-every 50 $TERMS --stretch-weight 1"
train --out "$OUT/stage10" $PHASE1 --init "$OUT/stage9" --model-config configs/bundled-pixel.json \
    --lr 5e-4 --warmup 50 --steps "$(steps 2000)"
train --out "$OUT/stage11" $PHASE1 --stretch-weight 1 --init "$OUT/stage10" --lr 3e-4 --warmup 20 \
    --steps "$(steps 500)"
train --out "$OUT/stage12" $LONG --init "$OUT/stage11" --lr 3e-4 --warmup 20 --steps "$(steps 300)"
train --out "$OUT/stage13" $PHASE1 --stretch-weight 1 --pick-weight 1 --pick-temperature 0.01 \
    --init "$OUT/stage12" --model-config configs/bundled-picker.json --lr 3e-4 --warmup 50 \
    --steps "$(steps 1500)" --stop-after "$(steps 900)"
train --out "$OUT/stage14" $PHASE1 --stretch-weight 1 --pick-weight 5 --init "$OUT/stage13" --lr 3e-4 \
    --warmup 20 --steps "$(steps 1500)"
train --out "$OUT/stage15" $LONG --pick-weight 5 --init "$OUT/stage14" --model-config configs/bundled-shown.json \
    --lr 3e-4 --warmup 20 --steps "$(steps 300)"

[ -f "$OUT/stage15/eval.json" ] || $RUN python -m dila.evaluate --model "$OUT/stage15" --codec "$OUT/codec" \
    --out "$OUT/stage15/eval.json"
