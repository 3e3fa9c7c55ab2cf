"""A decode task for tests, run inside the decode workers: files named `slow*` take SLOW_S
seconds longer, as a hanging upload would."""
import time
from pathlib import Path

from explorer.decode import decode_clip as decode

SLOW_S = 3.0


def decode_clip(path: str, *args):
    if Path(path).name.startswith("slow"):
        time.sleep(SLOW_S)
    return decode(path, *args)
