import os
import shutil

import numpy as np
import pytest

from conftest import REAL_UNPACK, REPO, synthetic_records
from pipe_torch import data
from pipe_torch.errors import PipeTorchError


def test_reads_the_pipe_binarys_unpack_artifact():
    dataset = data.load(REAL_UNPACK)
    assert dataset.image_size == 28 and dataset.images.shape == (12, 28, 28, 3)
    assert len(dataset.records) == 60
    assert {r.split for r in dataset.records} == {"train", "val", "test"}
    first = dataset.records[0]
    assert first.question_id == "SynthCT_000004_modality" and first.options == ["Fundus Photography", "CT", "Dermoscopy"]
    assert first.answer_letter == "B" and first.chain_id == "SynthCT_000004" and first.chain_step == 1
    # Records of one image share one split (unpack keeps an image's questions together).
    by_image = {}
    for r in dataset.records:
        by_image.setdefault(r.image, set()).add(r.split)
    assert all(len(splits) == 1 for splits in by_image.values())


def test_writer_reproduces_the_swift_files_byte_for_byte(tmp_path):
    dataset = data.load(REAL_UNPACK)
    copy = str(tmp_path / "copy")
    data.write(copy, dataset.image_size, list(dataset.images), dataset.records)
    for name in ("index.json", "images.u8"):
        with open(os.path.join(REAL_UNPACK, name), "rb") as a, open(os.path.join(copy, name), "rb") as b:
            assert a.read() == b.read(), name


def test_synthetic_dataset_round_trips(synthetic_dataset):
    dataset = data.load(synthetic_dataset)
    images, records = synthetic_records(8, 56)
    assert np.array_equal(np.asarray(dataset.images), np.stack(images))
    assert [r.question_id for r in dataset.records] == [r.question_id for r in records]
    assert len(dataset.split("train")) == 8 and len(dataset.split("val")) == 4 and len(dataset.split("test")) == 4
    assert data.rationale_for(dataset, dataset.records[1]).startswith("a CT image of the chest.")


def _broken(tmp_path, change):
    directory = str(tmp_path / "broken")
    shutil.copytree(REAL_UNPACK, directory)
    change(directory)
    return directory


@pytest.mark.parametrize("change, message", [
    (lambda d: shutil.rmtree(d), "does not exist"),
    (lambda d: os.remove(os.path.join(d, "index.json")), "is not an unpack artifact"),
    (lambda d: open(os.path.join(d, "index.json"), "w").write("{\"format\": \"pipe-vqa 2\"}"), "unsupported dataset format 'pipe-vqa 2'"),
    (lambda d: open(os.path.join(d, "index.json"), "w").write("{"), "cannot read"),
    (lambda d: open(os.path.join(d, "images.u8"), "r+b").truncate(100), "holds 100 bytes; the index describes 28224"),
])
def test_bad_datasets_are_input_errors(tmp_path, change, message):
    directory = _broken(tmp_path, change)
    with pytest.raises(PipeTorchError) as caught:
        data.load(directory)
    assert message in caught.value.message and caught.value.exit_code == 2 and "unpack" in caught.value.hint


def _pipe_binary():
    for candidate in (os.environ.get("PIPE_BINARY"), os.path.join(REPO, ".build", "debug", "pipe")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.mark.skipif(_pipe_binary() is None, reason="no pipe binary (.build/debug/pipe or PIPE_BINARY)")
def test_the_fixture_is_what_the_pipe_binary_makes_today(tmp_path):
    # When the Swift side changes the unpack format, this fails: regenerate the fixture with recipe.yaml.
    import subprocess
    shutil.copy(os.path.join(REAL_UNPACK, "recipe.yaml"), tmp_path / "recipe.yaml")
    env = dict(os.environ, PIPE_CACHE=str(tmp_path / "cache"))
    for args in (["run", "recipe.yaml"], ["get", "latest", "split", "--out", "split"]):
        result = subprocess.run([_pipe_binary(), *args], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    for name in ("index.json", "images.u8"):
        with open(os.path.join(REAL_UNPACK, name), "rb") as a, open(tmp_path / "split" / name, "rb") as b:
            assert a.read() == b.read(), name
