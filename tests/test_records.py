import json

import pytest

from lebench.core.errors import UserError
from lebench.manifests.records import Utterance, read_records, write_records


def utt(**kw):
    base = dict(id="u1", audio="/a.wav", duration=2.0, speaker="s1", gender="F",
                speech_type="read", corpus="c", licence="CC0-1.0", transcript="bonjour",
                labels={"emotion": "joy"})
    return Utterance(**(base | kw))


def test_round_trip(tmp_path):
    path = tmp_path / "u.jsonl"
    assert write_records(path, [utt(), utt(id="u2", start=1.0, end=3.0)]) == 2
    back = list(read_records(path))
    assert back == [utt(), utt(id="u2", start=1.0, end=3.0)]


@pytest.mark.parametrize("bad", [dict(gender="X"), dict(duration=0), dict(speech_type="sung"),
                                 dict(start=1.0), dict(id="a/b")])
def test_invalid_records_are_refused_on_write(tmp_path, bad):
    with pytest.raises(ValueError):
        write_records(tmp_path / "u.jsonl", [utt(**bad)])
    assert not (tmp_path / "u.jsonl").exists()


def test_invalid_line_names_file_and_line(tmp_path):
    path = tmp_path / "u.jsonl"
    write_records(path, [utt()])
    row = json.loads(path.read_text()) | {"gender": "unknown"}
    path.write_text(path.read_text() + json.dumps(row) + "\n")
    with pytest.raises(UserError, match=r"u\.jsonl:2: invalid utterance record"):
        list(read_records(path))
