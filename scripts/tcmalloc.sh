# Sourced by the training scripts. tcmalloc keeps the memory a step frees for the next (glibc maps every
# block over 32 MB afresh): 2.6 -> 2.3 s per 16x16 step (`benchmarks/bench_train_step.py`).
# Debian: apt-get install libtcmalloc-minimal4. Without it, nothing changes.
TCMALLOC=$(ls /usr/lib/*/libtcmalloc_minimal.so.4 2>/dev/null | head -n 1 || true)
if [ -n "$TCMALLOC" ]; then export LD_PRELOAD="$TCMALLOC${LD_PRELOAD:+:$LD_PRELOAD}" TCMALLOC_RELEASE_RATE=0; fi
