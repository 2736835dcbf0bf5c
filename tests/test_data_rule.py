"""Getting the data is one rule: the local `data` job finds (or downloads) the data set and writes its
manifest; every job that reads data waits for it; a data set that cannot be had stops the run there,
saying where the files must go and how to fetch them elsewhere."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.error import URLError

import pytest
from test_data import write_cifar

from unlearning_comparator.cli import DATA_READERS, build_parser
from unlearning_comparator.data import DatasetMissingError, datasets, sources
from unlearning_comparator.jobs import data as data_job

from conftest import ROOT, snakemake, tiny_config, tiny_run_config, write_config

FMNIST_ROOT = str(ROOT / "resources" / "data")  # as the tests' fixture: the repository's copy, else Debian's
MANIFEST = "results/c10/data/manifest.json"


def _check_files(manifest: dict, expected: list[Path]) -> None:
    """Paths, sizes and SHA-256 of the manifest's files, computed again here."""
    assert [Path(f["path"]) for f in manifest["files"]] == expected
    for record, path in zip(manifest["files"], expected):
        content = path.read_bytes()
        assert record["bytes"] == len(content)
        assert record["sha256"] == hashlib.sha256(content).hexdigest()


def _written_just_now(manifest: dict) -> bool:
    written = time.mktime(time.strptime(manifest["written"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    return abs(time.time() - written) < 600


def test_manifest_of_fashion_mnist_records_the_real_files(tmp_path):
    data = {"root": FMNIST_ROOT, "train_per_class": 100, "test_per_class": 50}
    spec = {"dataset": "fashion_mnist", "data": data}
    assert data_job.run(spec, str(tmp_path / "manifest.json"), allow_download=False) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    found = sources.locate("fashion_mnist", FMNIST_ROOT)
    assert manifest["folder"] == str(found.folder) and manifest["url"] is None
    assert manifest["origin"] == (
        "Debian's package dataset-fashion-mnist" if found.from_debian else "found under data.root"
    )
    expected = [found.folder / n for n in sources.FASHION_MNIST_FILES]
    _check_files(manifest, [p if p.is_file() else p.with_name(p.name + ".gz") for p in expected])
    assert manifest["images"] == {
        "train": 60000,
        "test": 10000,
        "train_used": 1000,
        "test_used": 500,
        "train_per_class": 100,
        "test_per_class": 50,
    }
    assert manifest["dataset"] == "fashion_mnist" and manifest["root"] == FMNIST_ROOT
    assert _written_just_now(manifest)


def test_manifest_of_cifar10_in_its_own_format(tmp_path):
    write_cifar(tmp_path / "root", per_batch=20)
    spec = {
        "dataset": "cifar10",
        "data": {"root": str(tmp_path / "root"), "train_per_class": None, "test_per_class": None},
    }
    assert data_job.run(spec, str(tmp_path / "manifest.json"), allow_download=False) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    folder = tmp_path / "root" / "cifar-10-batches-py"
    assert manifest["folder"] == str(folder) and manifest["origin"] == "found under data.root"
    _check_files(manifest, [folder / n for n in sources.CIFAR10_FILES])  # batches.meta is not read
    assert manifest["images"]["train"] == 100 and manifest["images"]["test"] == 20
    assert manifest["images"]["train_used"] == 100 and manifest["images"]["test_used"] == 20


def _no_download(name, root):
    raise AssertionError("the network was tried")


def _offline(name, root):
    raise URLError("[Errno -2] Name or service not known")


def test_the_refusal_says_where_the_files_go_and_how_to_fetch_them(tmp_path, monkeypatch):
    root = tmp_path / "empty"
    monkeypatch.setattr(datasets, "_torchvision_download", _no_download)
    with pytest.raises(DatasetMissingError) as info:
        datasets.ensure("cifar10", root, allow_download=False)
    text = str(info.value)
    assert text.startswith("CIFAR-10 is not available: it was not found, and downloading it is switched off")
    assert f"{root}/cifar-10-batches-py/" in text
    assert all(name in text for name in sources.CIFAR10_FILES + ("batches.meta",))
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in text
    assert f"CIFAR10('{root}', download=True)" in text and "Traceback" not in text

    monkeypatch.setattr(datasets, "_torchvision_download", _offline)
    with pytest.raises(DatasetMissingError) as info:
        datasets.ensure("cifar10", root, allow_download=True)
    assert str(info.value).startswith(
        "CIFAR-10 is not available: it was not found, and downloading it failed\n"
        "    from https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz\n"
        "    (URLError: <urlopen error [Errno -2] Name or service not known>).\n"
    )
    directions = text.split("The workflow reads", 1)[1]
    assert str(info.value).split("The workflow reads", 1)[1] == directions  # the same directions

    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian-package")
    with pytest.raises(DatasetMissingError) as info:
        datasets.ensure("fashion_mnist", root, allow_download=False)
    text = str(info.value)
    assert f"{root}/FashionMNIST/raw/" in text and "sudo apt-get install dataset-fashion-mnist" in text
    assert all(name in text for name in sources.FASHION_MNIST_FILES)
    assert sources.FASHION_MNIST_URL in text and f"FashionMNIST as F; F('{root}', download=True)" in text


def test_two_downloads_into_one_root_take_turns(tmp_path, monkeypatch):
    """Two experiments that share a data root (two data rules at once) download it once."""
    calls = []

    def slow_download(name, root):
        calls.append(name)
        time.sleep(0.3)  # long enough for the other thread to reach the lock
        write_cifar(root)

    monkeypatch.setattr(datasets, "_torchvision_download", slow_download)
    with ThreadPoolExecutor(2) as pool:
        downloaded = list(pool.map(lambda _: datasets.download("cifar10", tmp_path), range(2)))
    assert calls == ["cifar10"] and sorted(downloaded) == [False, True]
    assert sources.locate("cifar10", tmp_path) is not None


def _cifar_config(workdir: Path, download: bool) -> Path:
    data = {"root": "cifar-data", "download": download, "train_per_class": 2, "test_per_class": 2}
    return write_config(workdir / "c10.yaml", tiny_config(name="c10", dataset="cifar10", data=data))


def _offline_environment(monkeypatch) -> None:
    """No network on any machine: every download goes to a closed local port."""
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(key, "http://127.0.0.1:9")
    for key in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(key, raising=False)


def _started_rules(output: str) -> list[str]:
    return re.findall(r"^(?:local)?rule (\w+):", output, re.MULTILINE)


@pytest.mark.parametrize("download", [True, False], ids=["download", "no-download"])
def test_without_the_data_the_workflow_stops_in_the_data_rule(tmp_path, monkeypatch, download):
    _offline_environment(monkeypatch)
    result = snakemake(tmp_path, "--cores", "2", "--configfile", str(_cifar_config(tmp_path, download)))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert _started_rules(output) == ["data"], output[-3000:]  # no other job ran
    log = (tmp_path / "results/c10/logs/data/data.log").read_text()
    reason = (
        "downloading it failed\n    from https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz\n"
        "    (URLError:"
        if download
        else "downloading it is switched off\n"
    )
    assert log.startswith(f"CIFAR-10 is not available: it was not found, and {reason}")
    assert "cifar-data/cifar-10-batches-py/" in log and "Traceback" not in log
    assert log.strip() in output  # the message is on the terminal too
    assert sorted(p.name for p in (tmp_path / "results/c10/logs").iterdir()) == ["data"]
    assert (tmp_path / "cifar-data").exists() == download  # without download, not even the folder is made


def _jobs(plan: str) -> list[dict]:
    """The jobs of a dry run's plan (with -p): rule, inputs and shell command of each."""
    jobs = []
    for block in re.split(r"\n\[[^\]\n]+\]\n", plan)[1:]:
        rule = re.match(r"(?:local)?rule (\w+):", block)[1]
        inputs = re.search(r"^    input: (.*)$", block, re.MULTILINE)
        command = re.search(r"^Shell command: (.*)$", block, re.MULTILINE)
        jobs.append(
            {
                "rule": rule,
                "input": inputs[1].split(", ") if inputs else [],
                "command": command[1] if command else "",
            }
        )
    return jobs


def test_every_rule_that_reads_data_waits_for_the_manifest(tmp_path):
    # three seeds and the audit, so that the plan holds a job of every rule
    audit = ("--config", "seeds=3", "audit={shadow_models: 2}")
    result = snakemake(tmp_path, "-n", "-p", *audit, "--configfile", str(tiny_run_config(tmp_path)))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = _jobs(result.stdout)
    rules = {"all"}
    for path in [*(ROOT / "workflow" / "rules").glob("*.smk")]:
        rules |= set(re.findall(r"^rule (\w+):", path.read_text(), re.MULTILINE))
    assert {job["rule"] for job in jobs} == rules  # the tiny run's plan has a job of every rule
    assert [job["rule"] for job in jobs].count("data") == 1
    manifest = "results/tiny/data/manifest.json"
    for job in jobs:
        words = shlex.split(job["command"].split(" > ")[0])
        if "unlearning_comparator" not in words:
            continue
        arguments = words[words.index("unlearning_comparator") + 1 :]
        build_parser().parse_args(arguments)  # every command line the rules write still parses
        if arguments[0] in DATA_READERS or job["rule"] == "import_external":
            assert manifest in job["input"], job
        if job["rule"] != "data":
            assert "download" not in job["command"], job  # only the data rule may download


def _dry_run(workdir: Path, *args: str):
    return snakemake(workdir, *args, "-n", "--configfile", str(workdir / "c10.yaml"))


def test_the_manifest_is_written_once_and_kept_while_the_data_stay(tmp_path):
    write_cifar(tmp_path / "cifar-data")
    _cifar_config(tmp_path, download=False)
    result = snakemake(tmp_path, MANIFEST, "--cores", "1", "--configfile", str(tmp_path / "c10.yaml"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    manifest = tmp_path / MANIFEST
    before = (manifest.stat().st_mtime_ns, manifest.read_text())

    assert "Nothing to be done" in _dry_run(tmp_path, MANIFEST).stdout
    plan = _dry_run(tmp_path, "results/c10/tables/subset.arrow").stdout
    assert _started_rules(plan) == ["subsets"]  # the jobs that read data plan no second data job
    _cifar_config(tmp_path, download=True)  # how the data are got is not what they are
    (tmp_path / "cifar-data/cifar-10-batches-py/test_batch").touch()  # a newer time, the same bytes
    assert "Nothing to be done" in _dry_run(tmp_path, MANIFEST).stdout
    assert (manifest.stat().st_mtime_ns, manifest.read_text()) == before

    batch = tmp_path / "cifar-data/cifar-10-batches-py/data_batch_3"
    content = bytearray(batch.read_bytes())
    content[-200] ^= 1
    batch.write_bytes(bytes(content))
    result = _dry_run(tmp_path, MANIFEST)
    assert result.returncode != 0
    changed = f"The data set changed since {MANIFEST} was written:\n    {batch.relative_to(tmp_path)}: "
    assert changed + "SHA-256" in result.stdout + result.stderr
    manifest.unlink()  # accepting the new data: the rule records them again
    assert _started_rules(_dry_run(tmp_path, MANIFEST).stdout) == ["data"]
