"""Config: defaults, file, --set overrides, and one-line errors that name the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowers_mobile.cli import main
from flowers_mobile.config import Config, load_config
from flowers_mobile.errors import UserError


def test_root_config_json_mirrors_the_defaults():
    with open("config.json") as fh:
        assert json.load(fh) == Config().to_dict()


def test_readme_config_table_names_every_key():
    """Each section of config.json has a row in the README's configuration table that names every
    key (nested `parity.limits` rows: each limit's field too)."""
    import re

    readme = Path("README.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| (.*) \|$", readme, re.M)}
    with open("config.json") as fh:
        config = json.load(fh)
    missing = []
    for section, keys in config.items():
        row = rows.get(section, "")
        for key, value in keys.items():
            if f"`{key}`" not in row and f"`{key}." not in row:
                missing.append(f"{section}.{key}")
            nested = [v for v in value.values() if isinstance(v, dict)] if isinstance(value, dict) else []
            missing += [f"{section}.{key}.*.{f}" for v in nested for f in v if f"`{f}`" not in row]
    assert not missing, f"README config table lacks: {', '.join(missing)}"


def test_partial_file_and_set_overrides_apply_in_order(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"model": {"alpha": 0.5}, "training": {"head_epochs": 4}}))
    cfg = load_config(path, ["training.head_epochs=7", "model.weights=none", "export.tflite_precisions=[\"float32\"]"])
    assert cfg.model.alpha == 0.5
    assert cfg.training.head_epochs == 7
    assert cfg.model.weights == "none"
    assert cfg.export.tflite_precisions == ["float32"]
    assert cfg.model.input_size == 224  # untouched default


@pytest.mark.parametrize("raw, key", [
    ({"model": {"alpha_typo": 1.0}}, "model.alpha_typo"),
    ({"modle": {}}, "modle"),
    ({"training": {"head_epochs": "ten"}}, "training.head_epochs"),
    ({"training": {"finetune_fraction": 1.5}}, "training.finetune_fraction"),
    ({"training": {"distribute": "tpu"}}, "training.distribute"),
    ({"data": {"cache": 1}}, "data.cache"),
    ({"export": {"tflite_precisions": ["int4"]}}, "export.tflite_precisions"),
])
def test_bad_values_name_the_key(tmp_path, raw, key):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(UserError) as err:
        load_config(path)
    assert key in str(err.value)
    assert "\n" not in err.value.one_line()


def test_fractions_must_sum_to_one():
    with pytest.raises(UserError, match="must be 1"):
        load_config(None, ["data.train_fraction=0.9"])


def test_bad_set_syntax_is_an_error():
    with pytest.raises(UserError, match="key=value"):
        load_config(None, ["training.head_epochs"])
    with pytest.raises(UserError, match="unknown key"):
        load_config(None, ["nosuch.key=1"])


def test_cli_malformed_config_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"model": {"alpha": 0.5,,}}')
    out = tmp_path / "synth"
    with pytest.raises(SystemExit) as exc:
        main(["data", "synth", str(out), "--config", str(bad)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "malformed JSON" in err[0] and "line 1" in err[0]
    assert not out.exists()
