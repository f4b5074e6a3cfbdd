"""Where the AWS protocol compliance cases come from: botocore's source distribution on PyPI.

botocore ships its protocol compliance cases in its sdist (``tests/unit/protocols/``), not in
its wheel. The first run downloads the sdist of the installed botocore version with pip and
keeps the four files this suite reads in a cache directory; later runs read the cache.
``CASEWORK_PROTOCOL_TESTS`` names a directory holding the files instead (no download).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import botocore

FILES = ("input/json.json", "input/rest-json.json", "output/json.json", "output/rest-json.json")


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "casework" / "protocol-tests"


def suite_dir() -> Path:
    """A directory holding ``FILES``, downloading botocore's sdist on first use."""
    override = os.environ.get("CASEWORK_PROTOCOL_TESTS")
    if override:
        return Path(override)
    version = botocore.__version__
    target = _cache_root() / f"botocore-{version}"
    if all((target / name).is_file() for name in FILES):
        return target
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", f"botocore=={version}", "--dest", download],
            check=True,
        )
        (sdist,) = Path(download).glob("botocore-*.tar.gz")
        # Write to a fresh directory, then rename, so a half-written cache is never read.
        staging = Path(tempfile.mkdtemp(dir=_ensure(target.parent)))
        with tarfile.open(sdist) as archive:
            for name in FILES:
                member = archive.getmember(f"botocore-{version}/tests/unit/protocols/{name}")
                data = archive.extractfile(member).read()
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                (staging / name).write_bytes(data)
        with contextlib.suppress(OSError):  # another run filled the cache meanwhile
            staging.rename(target)
    return target


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
