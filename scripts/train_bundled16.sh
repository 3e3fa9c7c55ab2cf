#!/usr/bin/env bash
# The bundled model's recipe (README, "The bundled model") on a 16x16 grid of 4-pixel cells, the
# published model's grid: a 2-5 px move is about one cell there instead of a fraction of an 8-pixel
# one (docs/bundled-model.md). Rerun the same command after a stop: finished stages are skipped and
# the running one resumes from its last save (every 15 minutes at least).
#   GPU:  bash scripts/train_bundled16.sh
#   CPU:  BATCH=12 WORKERS=1 bash scripts/train_bundled16.sh
# Every step count is divided by SCALE (SCALE=500 is a smoke test). Writes OUT/codec, OUT/stage1..3,
# OUT/codec-slim and OUT/stage3/eval.json (ship OUT/stage3 with OUT/codec-slim as its codec/).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tcmalloc.sh
OUT=${OUT:-runs/bundled16}
SCALE=${SCALE:-1}
BATCH=${BATCH:-32}
WORKERS=${WORKERS:-8}
steps() { echo $(( ($1 + SCALE - 1) / SCALE )); }
mkdir -p "$OUT"

[ -f "$OUT/codec/model.safetensors" ] || python -m dila.codecs.train_light --out "$OUT/codec" --grid-size 16 \
    --latent-dim 48 --steps "$(steps 150)" --batch 32 --threads "$(nproc)"
python -c "
from dataclasses import replace
from dila.train import small_config
design = replace(small_config(48), inverse_norm='frame')
replace(design, inverse_antisymmetric=False).save('$OUT/stage1.json')
design.save('$OUT/stage2.json')"

COMMON="--codec $OUT/codec --phase 1 --batch-size $BATCH --frames 6 --workers $WORKERS --save-every $(steps 500)
        --oracle-weight 4 --detached-dynamics-weight 1"
python -m dila.train --out "$OUT/stage1" $COMMON --model-config "$OUT/stage1.json" --lr 1e-3 --warmup 100 \
    --steps "$(steps 2000)" --stop-after "$(steps 1000)" --symmetry-weight 0.02
python -m dila.train --out "$OUT/stage2" $COMMON --init "$OUT/stage1" --model-config "$OUT/stage2.json" \
    --lr 5e-4 --warmup 50 --steps "$(steps 2000)" --symmetry-weight 0
python -m dila.train --out "$OUT/stage3" --codec "$OUT/codec" --phase 2 --init "$OUT/stage2" \
    --batch-size $(( BATCH / 2 )) --frames 8 --workers "$WORKERS" --lr 3e-4 --warmup 20 --steps "$(steps 300)" \
    --save-every "$(steps 100)" --oracle-weight 4 --detached-dynamics-weight 1 --symmetry-weight 0
# The codec that ships decodes with its linear map alone (the same frames within half a grey level).
[ -f "$OUT/codec-slim/model.safetensors" ] || python -m dila.codecs.slim "$OUT/codec" --out "$OUT/codec-slim"
[ -f "$OUT/stage3/eval.json" ] || python -m dila.evaluate --model "$OUT/stage3" --codec "$OUT/codec-slim" \
    --out "$OUT/stage3/eval.json"
