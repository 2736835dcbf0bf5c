"""Weights on disk: atomic writes, weights_only loading, clear errors for corrupt or unsafe files."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from unlearning_comparator import atomic
from unlearning_comparator.checkpoints import CheckpointError, load_weights, save_state_dict
from unlearning_comparator.models import create_model


def test_roundtrip_is_exact(tmp_path):
    model = create_model("compact_resnet", 10, 1)
    save_state_dict(model, tmp_path / "m.pt")
    other = load_weights(create_model("compact_resnet", 10, 1), tmp_path / "m.pt")
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert torch.equal(a, b), k


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/uc-checkpoint-pwned",))


def test_a_checkpoint_carrying_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    state = create_model("compact_resnet", 10, 1).state_dict()
    with open(path, "wb") as handle:
        pickle.dump({"state": state, "payload": _Payload()}, handle)
    with pytest.raises(CheckpointError, match="asks to run code|not a plain state_dict"):
        load_weights(create_model("compact_resnet", 10, 1), path)
    assert not os.path.exists("/tmp/uc-checkpoint-pwned")


def test_truncated_and_mismatched_checkpoints_name_the_file(tmp_path):
    model = create_model("compact_resnet", 10, 1)
    save_state_dict(model, tmp_path / "m.pt")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as info:
        load_weights(create_model("compact_resnet", 10, 1), tmp_path / "cut.pt")
    assert "cut.pt" in str(info.value) and "rerun" in str(info.value)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_weights(create_model("resnet18", 10, 3), tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_weights(model, tmp_path / "missing.pt")


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    atomic.write_bytes(target, b"old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed halfway")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
