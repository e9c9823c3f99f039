"""Bad input through the real command line: one line on stderr, exit 2, nothing damaged."""
import re
import subprocess
import sys

import pytest

from tests.conftest import write_tone


def lebench(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lebench.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("lebench")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_every_command_has_its_help(capsys):
    """Each command of the parser (test_commands.py runs every one of them for real)."""
    from lebench.cli import main
    from tests.test_commands import build_parser, commands
    names = commands(build_parser())
    listed = lebench("--help").stdout
    section = listed[listed.index("<command>\n"):listed.index("\noptions:")]
    shown = {line.split()[0] for line in section.splitlines() if re.match(r"    \S", line)}
    assert shown == {n.split()[0] for n in names}  # the command list, not the epilog's prose
    for name in sorted(names):
        with pytest.raises(SystemExit) as done:
            main([*name.split(), "--help"])
        assert done.value.code == 0 and f"usage: lebench {name}" in capsys.readouterr().out


def test_unknown_config_name(tmp_path):
    assert_one_line_error(lebench("pretrain", "3K-bass", "--data", tmp_path, "--save-dir", tmp_path),
                          "'3K-bass' not found", "available:")


def test_empty_manifest(tmp_path):
    (tmp_path / "train.tsv").write_text("")
    assert_one_line_error(lebench("pretrain", "demo", "--data", tmp_path, "--save-dir", tmp_path / "s"),
                          "train.tsv", "no utterances", "lebench manifest")


def test_wrong_rate_and_stereo_in_a_manifest(tmp_path):
    for name, kw in (("hi.wav", dict(rate=44_100)), ("st.wav", dict(channels=2))):
        d = tmp_path / name
        write_tone(d / "audio" / name, **kw)
        for split in ("train", "valid"):
            (d / f"{split}.tsv").write_text(f"{d / 'audio'}\n{name}\t24000\n")
        p = lebench("pretrain", "demo", "--data", d, "--save-dir", d / "s")
        assert_one_line_error(p, name, "lebench prepare", "train.tsv:2")
        assert not (d / "s").exists()


def test_missing_audio_in_records_keeps_existing_manifests(tmp_path, demo_records):
    out = tmp_path / "m"
    assert lebench("manifest", demo_records, out).returncode == 0
    before = (out / "train.tsv").read_text()
    broken = tmp_path / "broken.jsonl"
    text = demo_records.read_text()
    broken.write_text(text.replace("s01_d01_s.wav", "gone.wav", 1))
    assert_one_line_error(lebench("manifest", broken, out), "gone.wav", "file not found")
    assert (out / "train.tsv").read_text() == before


def test_prepare_missing_folder_and_unknown_reader(tmp_path):
    assert_one_line_error(lebench("prepare", tmp_path / "nope", tmp_path / "o"), "corpus folder not found")
    assert_one_line_error(lebench("prepare", tmp_path, tmp_path / "o", "--reader", "mls"), "unknown reader")
