"""Weights from ModelScope (for users who cannot reach the HuggingFace hub), over its plain HTTP API, with
no modelscope package: list the repo's files at a revision, download each one resumably (HTTP Range into a
.part file), check its size and sha256 against the listing, and move it into place atomically.

  GET {endpoint}/api/v1/models/{org}/{name}/repo/files?Revision={rev}&Recursive=True
  GET {endpoint}/api/v1/models/{org}/{name}/repo?Revision={rev}&FilePath={path}

The endpoint is https://www.modelscope.cn, or $MODELSCOPE_DOMAIN (a host name, or a full http(s):// URL for a
mirror). MODELSCOPE_API_TOKEN, for gated repos, is sent as the m_session_id cookie for this process only and
never written anywhere. Revisions are ModelScope branches or tags (default: master).
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Optional

from .errors import VlmrunError
from .paths import cache_dir, file_digest

COMPLETE = ".vlmrun-modelscope.json"
SKIP = {".gitattributes", ".gitignore"}


def endpoint() -> str:
    dom = os.environ.get("MODELSCOPE_DOMAIN") or "www.modelscope.cn"
    return dom.rstrip("/") if dom.startswith(("http://", "https://")) else f"https://{dom}"


def snapshot_dir(repo: str, revision: str) -> Path:
    return cache_dir() / "modelscope" / repo / revision


def complete_snapshot(repo: str, revision: str) -> Optional[Path]:
    d = snapshot_dir(repo, revision)
    return d if (d / COMPLETE).is_file() else None


def _open(url: str, headers: Optional[dict] = None, timeout: float = 60):
    h = {"User-Agent": "vlmrun", **(headers or {})}
    token = os.environ.get("MODELSCOPE_API_TOKEN")
    if token:
        h["Cookie"] = f"m_session_id={token}"
    return urllib.request.urlopen(urllib.request.Request(url, headers=h), timeout=timeout)


def list_files(repo: str, revision: str) -> list[dict]:
    url = (f"{endpoint()}/api/v1/models/{repo}/repo/files?Revision={urllib.parse.quote_plus(revision)}"
           "&Recursive=True")
    try:
        with _open(url) as r:
            body = json.loads(r.read())
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise VlmrunError(f"ModelScope {endpoint()} did not list {repo}@{revision} ({e}); check the network or "
                          "set MODELSCOPE_DOMAIN to a reachable mirror") from None
    if body.get("Code") != 200 or not body.get("Success", True):
        raise VlmrunError(f"ModelScope refused {repo}@{revision}: {str(body.get('Message'))[:200]} "
                          "(gated repo: set MODELSCOPE_API_TOKEN)")
    files = [f for f in (body.get("Data") or {}).get("Files") or []
             if f.get("Type") != "tree" and f.get("Name", Path(f["Path"]).name) not in SKIP]
    if not files:
        raise VlmrunError(f"ModelScope lists no files for {repo}@{revision}")
    return files


def _fetch(repo: str, revision: str, meta: dict, dest: Path) -> None:
    """One file, resumed from dest.part when a previous try was cut off."""
    size = int(meta.get("Size") or 0)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    url = (f"{endpoint()}/api/v1/models/{repo}/repo?Revision={urllib.parse.quote_plus(revision)}"
           f"&FilePath={urllib.parse.quote_plus(meta['Path'])}")
    have = part.stat().st_size if part.is_file() else 0
    if have > size:
        part.unlink()
        have = 0
    if size == 0 or have < size:
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with _open(url, headers) as r:
                mode = "ab" if (have and r.status == 206) else "wb"  # a server that ignores Range: start over
                with open(part, mode) as f:
                    while True:
                        block = r.read(1 << 20)
                        if not block:
                            break
                        f.write(block)
        except (urllib.error.URLError, OSError) as e:
            raise VlmrunError(f"downloading {meta['Path']} of {repo} broke off ({e}); run the same command again to "
                              "resume") from None
    got = part.stat().st_size if part.is_file() else 0
    if got != size:
        raise VlmrunError(f"{meta['Path']} of {repo}: {got} of {size} bytes arrived; run the same command again "
                          "to resume")
    want = meta.get("Sha256")
    if want and file_digest(part, "sha256") != want:
        part.unlink()
        raise VlmrunError(f"{meta['Path']} of {repo}: sha256 differs from ModelScope's listing; the file was "
                          "removed, run the same command again")
    os.replace(part, dest)


def pull(repo: str, revision: str, log: Callable[[str], None] = print) -> Path:
    files = list_files(repo, revision)
    snap = snapshot_dir(repo, revision)
    for meta in files:
        dest = snap / meta["Path"]
        if dest.is_file() and dest.stat().st_size == int(meta.get("Size") or 0):
            continue  # complete (checked when it was moved into place)
        _fetch(repo, revision, meta, dest)
        log(f"  {meta['Path']} ({int(meta.get('Size') or 0) / 1e6:.1f} MB)")
    tmp = snap / (COMPLETE + ".tmp")
    tmp.write_text(json.dumps({"source": "modelscope", "repo": repo, "revision": revision, "endpoint": endpoint(),
                               "files": [{k: m.get(k) for k in ("Path", "Size", "Sha256", "Revision")} for m in files]},
                              indent=1))
    os.replace(tmp, snap / COMPLETE)
    return snap
