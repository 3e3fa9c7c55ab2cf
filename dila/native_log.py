"""Filtering what native libraries print straight to the process's stderr (file descriptor 2),
such as OpenCV's FFmpeg backend, which no Python logging setting reaches."""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading

_redirect = threading.Lock()


@contextlib.contextmanager
def drop_native_lines(pattern: str | re.Pattern):
    """Within the block, stderr lines matching `pattern` are dropped; every other line is passed
    on when the block ends. Blocks run one at a time (fd 2 is shared by every thread)."""
    pattern = re.compile(pattern)
    with _redirect, tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(keepends=True)
                    if not pattern.search(line.decode(errors="replace"))]
            if kept:
                os.write(2, b"".join(kept))
