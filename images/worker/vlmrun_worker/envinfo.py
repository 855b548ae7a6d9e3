"""What this environment is: reported from inside the container into every result's provenance."""
import importlib.metadata as md
import platform


def _version(dist):
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def environment() -> dict:
    info = {
        "python": platform.python_version(),
        "torch": _version("torch"),
        "torchvision": _version("torchvision"),
        "transformers": _version("transformers"),
        "tokenizers": _version("tokenizers"),
        "pillow": _version("pillow"),
        "numpy": _version("numpy"),
        "flash_attn": _version("flash-attn"),
    }
    try:
        import torch

        info["cuda_available"] = torch.cuda.is_available()
        info["cuda"] = torch.version.cuda
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    return info
