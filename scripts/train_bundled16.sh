#!/usr/bin/env bash
# The bundled model's recipe (README, "The bundled model") on a 16x16 grid of 4-pixel cells, the
# published model's grid, sized for one GPU: a 2-5 px move is about one cell there instead of a
# fraction of an 8-pixel one (docs/bundled-model.md). Every step count is divided by SCALE
# (SCALE=500 is a smoke test on a CPU). Writes OUT/codec, OUT/stage1..3 and OUT/stage3/eval.json.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/bundled16}
SCALE=${SCALE:-1}
WORKERS=${WORKERS:-8}
steps() { echo $(( ($1 + SCALE - 1) / SCALE )); }

python -m dila.codecs.train_light --out "$OUT/codec" --grid-size 16 --latent-dim 48 \
    --steps "$(steps 4000)" --batch 32 --threads "$(nproc)"
python -c "
from dataclasses import replace
from dila.train import small_config
replace(small_config(48), inverse_antisymmetric=False).save('$OUT/stage1.json')
small_config(48).save('$OUT/stage2.json')"

COMMON="--codec $OUT/codec --phase 1 --batch-size 32 --frames 6 --workers $WORKERS --save-every $(steps 1000)
        --oracle-weight 4 --detached-dynamics-weight 1"
python -m dila.train --out "$OUT/stage1" $COMMON --model-config "$OUT/stage1.json" --lr 1e-3 --warmup 100 \
    --steps "$(steps 3000)" --symmetry-weight 0.02
python -m dila.train --out "$OUT/stage2" $COMMON --init "$OUT/stage1" --model-config "$OUT/stage2.json" \
    --lr 5e-4 --warmup 50 --steps "$(steps 3000)" --symmetry-weight 0
python -m dila.train --out "$OUT/stage3" --codec "$OUT/codec" --phase 2 --init "$OUT/stage2" --batch-size 16 \
    --frames 8 --workers "$WORKERS" --lr 3e-4 --warmup 20 --steps "$(steps 300)" --save-every "$(steps 100)" \
    --oracle-weight 4 --detached-dynamics-weight 1 --symmetry-weight 0
python -m dila.evaluate --model "$OUT/stage3" --codec "$OUT/codec" --out "$OUT/stage3/eval.json"
