"""The Apache Kafka broker jars, fetched once from Maven Central and cached.

``infra/kafka/pom.xml`` names the artifacts; ``mvn dependency:copy-dependencies``
copies them into ``$TOUCHLINE_CACHE_DIR`` (default ``~/.cache/touchline``)
``/kafka-<version>/libs``. A ``.complete`` marker makes later calls a no-op
that needs neither Maven nor the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from infra.exceptions import StackError

KAFKA_VERSION = "3.9.1"  # why not 4.x: see infra/kafka/pom.xml
KAFKA_FILES = Path(__file__).parent / "kafka"
_COMPLETE = ".complete"


def kafka_jars_dir(cache_dir: Path | None = None) -> Path:
    root = cache_dir or os.environ.get("TOUCHLINE_CACHE_DIR") or Path.home() / ".cache" / "touchline"
    return Path(root) / f"kafka-{KAFKA_VERSION}" / "libs"


def need(tool: str, what: str) -> str:
    """The path of ``tool``, or an error that says what to install."""
    path = shutil.which(tool)
    if path is None:
        raise StackError(f"`{tool}` not found on PATH: install {what}")
    return path


def need_java() -> str:
    return need("java", "a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless); "
                        "the local Kafka broker runs on it")


def ensure_kafka_jars(cache_dir: Path | None = None, *, log: Callable[[str], None] = print) -> Path:
    """The jars directory, fetched with Maven the first time (into a temp dir, then renamed)."""
    libs = kafka_jars_dir(cache_dir)
    home = libs.parent
    if (home / _COMPLETE).exists():
        return libs
    need_java()
    mvn = need("mvn", "Apache Maven (e.g. apt-get install maven); it fetches the Kafka jars once")
    home.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=home.parent))
    try:
        log(f"fetching Apache Kafka {KAFKA_VERSION} jars from Maven Central into {home} (once, ~50 MB)")
        shutil.copy(KAFKA_FILES / "pom.xml", tmp / "pom.xml")  # mvn may write next to its pom
        done = subprocess.run(
            [mvn, "-B", "-q", "-f", str(tmp / "pom.xml"), "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={tmp / 'libs'}", f"-Dkafka.version={KAFKA_VERSION}"],
            capture_output=True, text=True, timeout=900)
        if done.returncode != 0 or not any((tmp / "libs").glob(f"kafka_*-{KAFKA_VERSION}.jar")):
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            raise StackError(f"Maven could not fetch the Kafka {KAFKA_VERSION} jars "
                             f"(is Maven Central reachable? a proxy in ~/.m2/settings.xml?):\n{tail}")
        (tmp / "pom.xml").unlink()
        (tmp / _COMPLETE).write_text(f"{KAFKA_VERSION}\n")
        if home.exists() and not (home / _COMPLETE).exists():
            shutil.rmtree(home)  # left by an interrupted run of an older layout
        try:
            tmp.rename(home)
        except OSError:  # another process finished first: use its copy
            if not (home / _COMPLETE).exists():
                raise
        return libs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
