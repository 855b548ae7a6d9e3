"""The remote-code test models' files: each one's own folder and remote_common/, copied into the model folder (where
transformers loads remote code from, relative imports included)."""
import shutil
from pathlib import Path

COMMON = Path(__file__).parent / "remote_common"


def copy_remote(remote: Path, out_dir: Path) -> None:
    for folder in (remote, COMMON):
        for f in folder.glob("*.py"):
            shutil.copy(f, Path(out_dir) / f.name)
