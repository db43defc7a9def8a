"""infra/parley.yaml, read as data (short-form intrinsics such as `!Ref X` become their plain arguments)."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "parley.yaml"


class _Loader(yaml.SafeLoader):
    """Reads `!Ref`, `!Sub`, `!GetAtt`, ... as the scalar, list or mapping they wrap."""


_Loader.add_multi_constructor(
    "!", lambda loader, suffix, node: loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
    else loader.construct_sequence(node, deep=True) if isinstance(node, yaml.SequenceNode)
    else loader.construct_mapping(node, deep=True))


def load(path: Path = TEMPLATE) -> dict:
    return yaml.load(path.read_text(), Loader=_Loader)


def output_keys(path: Path = TEMPLATE) -> list[str]:
    return list(load(path).get("Outputs", {}))
