"""Every user error of the first hour is one line on stderr and exit status 2, naming the file or
setting; model folders hold one run; partial JSON configs merge over the defaults."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from dyngraphvae.cli import main

torch.set_num_threads(1)
TINY = ["--latent-dim", "4", "--hidden-dim", "8", "--no-progress", "--epochs", "2"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("errs") / "m"
    assert main(["train", "--dataset", "dynamic_sbm_small", "--out", str(out), *TINY]) == 0
    return out


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err


def _one_line_exit_2(argv, capsys) -> str:
    assert main(argv) == 2
    err = _err(capsys)
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("flags, expected", [
    (["--lr", "-1"], "TrainConfig.lr must be"),
    (["--latent-dim", "0"], "ForecasterConfig.latent_dim: expected a positive integer"),
    (["--threads", "0"], "--threads must be a positive integer"),
])
def test_bad_settings_are_one_line(tmp_path, capsys, flags, expected):
    err = _one_line_exit_2(["train", "--dataset", "dynamic_sbm_small", "--out",
                            str(tmp_path / "x"), *TINY, *flags], capsys)
    assert expected in err


def test_encoder_typo_is_an_argparse_error_with_the_choices(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "dynamic_sbm_small", "--out", str(tmp_path / "x"),
              "--encoder", "gcnn"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "invalid choice: 'gcnn'" in err and "sage" in err
    assert len(err.splitlines()) == 1 and err.startswith("dyngraphvae train: error:")


def test_resume_without_a_checkpoint(tmp_path, capsys):
    err = _one_line_exit_2(["train", "--dataset", "dynamic_sbm_small", "--out",
                            str(tmp_path / "new"), *TINY, "--resume", "last"], capsys)
    assert "last.ckpt does not exist" in err


def test_existing_model_folder_is_refused_then_replaced_with_overwrite(folder, tmp_path, capsys):
    out = tmp_path / "m"
    shutil.copytree(folder, out)
    err = _one_line_exit_2(["train", "--dataset", "dynamic_sbm_small", "--out", str(out), *TINY],
                           capsys)
    assert "already holds a model" in err and "--overwrite" in err and "--resume last" in err
    (out / "logs" / "stale.txt").write_text("old run")
    assert main(["train", "--dataset", "dynamic_sbm_small", "--out", str(out), *TINY,
                 "--overwrite"]) == 0
    assert not (out / "logs" / "stale.txt").exists()  # the old run's logs went first
    versions = sorted(p.name for p in (out / "logs").iterdir())
    assert versions == ["version_0"]


def test_truncated_and_garbage_weights_name_the_file(folder, tmp_path, capsys):
    for name, content in (("trunc", None), ("garbage", b"\x80\x04K" + bytes(range(101)))):
        out = tmp_path / name
        shutil.copytree(folder, out)
        data = (out / "model.pt").read_bytes()
        (out / "model.pt").write_bytes(data[: len(data) // 2] if content is None else content)
        err = _one_line_exit_2(["evaluate", "--model", str(out), "--no-drift"], capsys)
        assert "model.pt" in err and "not a readable state_dict" in err


def test_another_models_weights(folder, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(["train", "--dataset", "dynamic_sbm_small", "--out", str(other),
                 "--latent-dim", "6", "--hidden-dim", "8", "--no-progress", "--epochs",
                 "1"]) == 0
    capsys.readouterr()
    out = tmp_path / "mixed"
    shutil.copytree(folder, out)
    shutil.copy(other / "model.pt", out / "model.pt")
    err = _one_line_exit_2(["forecast", "--model", str(out)], capsys)
    assert "shape mismatch" in err


def test_truncated_last_checkpoint_on_resume(folder, tmp_path, capsys):
    out = tmp_path / "r"
    shutil.copytree(folder, out)
    ckpt = out / "checkpoints" / "last.ckpt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    err = _one_line_exit_2(["train", "--dataset", "dynamic_sbm_small", "--out", str(out), *TINY,
                            "--resume", "last"], capsys)
    assert "last.ckpt: not a readable checkpoint" in err


def test_partial_model_config_merges_over_the_defaults(tmp_path, capsys):
    cfg = tmp_path / "model.json"
    cfg.write_text(json.dumps({"adjacency": "sparse", "decoder_context": "history"}))
    out = tmp_path / "p"
    assert main(["train", "--dataset", "dynamic_sbm_small", "--out", str(out), *TINY,
                 "--model-config", str(cfg), "--history-decay", "0.8"]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["adjacency"] == "sparse" and saved["decoder_context"] == "history"
    assert saved["history_decay"] == 0.8 and saved["num_nodes"] == 24 and saved["latent_dim"] == 4
    capsys.readouterr()
    cfg.write_text(json.dumps({"adjacenzy": "sparse"}))
    err = _one_line_exit_2(["train", "--dataset", "dynamic_sbm_small", "--out",
                            str(tmp_path / "q"), *TINY, "--model-config", str(cfg)], capsys)
    assert "adjacenzy" in err and "--model-config" in err
    cfg.write_text("{not json")
    err = _one_line_exit_2(["train", "--dataset", "dynamic_sbm_small", "--out",
                            str(tmp_path / "q"), *TINY, "--model-config", str(cfg)], capsys)
    assert "not valid JSON" in err


def test_verbose_is_accepted_after_the_subcommand(tmp_path):
    import logging
    import os

    assert main(["train", "--dataset", "dynamic_sbm_small", "--out", str(tmp_path / "v"), *TINY,
                 "--verbose"]) == 0
    # Lightning's info lines are let through (where they are printed depends on the stream
    # Lightning's own handler captured at import, so the level is what is checked)
    assert logging.getLogger("lightning.pytorch").level == logging.INFO
    assert "DYNGRAPHVAE_VERBOSE" not in os.environ  # and the setting does not leak
    assert main(["train", "--dataset", "dynamic_sbm_small", "--out", str(tmp_path / "q"),
                 *TINY]) == 0
    assert logging.getLogger("lightning.pytorch").level == logging.WARNING
