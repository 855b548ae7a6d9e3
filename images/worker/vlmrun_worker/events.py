"""Progress events: one JSON object per line on stdout, behind a prefix the host looks for."""
import json
import sys

PREFIX = "@@vlmrun "


def emit(event: str, **fields) -> None:
    sys.stdout.write(PREFIX + json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def parse(line: str):
    """The event in a log line, or None for ordinary output."""
    i = line.find(PREFIX)
    if i < 0:
        return None
    try:
        return json.loads(line[i + len(PREFIX):])
    except ValueError:
        return None
