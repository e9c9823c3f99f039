
import numpy as np
import pytest
import soundfile as sf

from lebench.core.errors import AudioError
from lebench.manifests.audio import check_model_ready, load_mono, probe, write_wav_atomic
from tests.conftest import write_tone


def test_probe_reads_header(tmp_path):
    info = probe(write_tone(tmp_path / "a.wav", rate=22_050, seconds=2.0))
    assert (info.sample_rate, info.channels, info.frames) == (22_050, 1, 44_100)


@pytest.mark.parametrize("make, reason", [
    (lambda p: p, "file not found"),
    (lambda p: (p.write_bytes(b""), p)[1], "empty file"),
    (lambda p: (p.write_bytes(b"RIFF\x10\x00\x00\x00WAVEgarbage"), p)[1], "unreadable audio"),
])
def test_probe_names_file_and_reason(tmp_path, make, reason):
    path = make(tmp_path / "bad.wav")
    with pytest.raises(AudioError) as e:
        probe(path)
    assert e.value.path == str(path) and reason in e.value.reason
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("subtype, channels, extra", [
    ("PCM_16", 1, None), ("PCM_24", 2, None), ("FLOAT", 1, None), ("PCM_16", 1, "list"),
    ("PCM_U8", 3, None)])
def test_fast_wav_header_agrees_with_libsndfile(tmp_path, subtype, channels, extra):
    path = write_tone(tmp_path / "a.wav", rate=22_050, seconds=1.3, channels=channels,
                      subtype=subtype)
    if extra == "list":  # a LIST chunk before the data, as many editors write
        data = path.read_bytes()
        chunk = b"LIST" + (14).to_bytes(4, "little") + b"INFOISFT" + (2).to_bytes(4, "little") + b"ab"
        i = data.index(b"data")
        path.write_bytes(data[:4] + (len(data) - 8 + len(chunk)).to_bytes(4, "little")
                         + data[8:i] + chunk + data[i:])
    info, ref = probe(path), sf.info(str(path))
    assert (info.sample_rate, info.channels, info.frames) == (ref.samplerate, ref.channels, ref.frames)
    assert info.pcm16_wav == (subtype == "PCM_16")


def test_truncated_wav_is_reported_as_truncated(tmp_path):
    path = write_tone(tmp_path / "a.wav", seconds=2.0)
    path.write_bytes(path.read_bytes()[:30_000])
    with pytest.raises(AudioError, match="truncated") as e:
        probe(path)
    assert e.value.kind == "truncated"


def test_truncated_flac_is_rejected(tmp_path):
    good = write_tone(tmp_path / "a.flac", seconds=3.0)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(AudioError):
        load_mono(cut)


def test_model_ready_rejects_rate_and_channels(tmp_path):
    with pytest.raises(AudioError, match="sample rate is 44100 Hz.*lebench prepare"):
        check_model_ready(write_tone(tmp_path / "hi.wav", rate=44_100))
    with pytest.raises(AudioError, match="2 channels"):
        check_model_ready(write_tone(tmp_path / "st.wav", channels=2))
    assert check_model_ready(write_tone(tmp_path / "ok.wav")).frames == 24_000


def test_load_mono_downmixes_and_resamples_once(tmp_path):
    wav = load_mono(write_tone(tmp_path / "s.flac", rate=44_100, seconds=2.0, channels=2))
    assert wav.dtype == np.float32 and wav.ndim == 1 and len(wav) == 32_000
    spectrum = np.abs(np.fft.rfft(wav))
    assert abs(np.argmax(spectrum) * 16_000 / len(wav) - 220) < 1  # the tone survives


def test_load_mono_segment_and_out_of_range(tmp_path):
    path = write_tone(tmp_path / "long.wav", seconds=3.0)
    assert len(load_mono(path, start=1.0, end=2.5)) == 24_000
    with pytest.raises(AudioError, match="outside the recording"):
        load_mono(path, start=2.0, end=4.0)


def test_atomic_write_leaves_no_partial(tmp_path):
    target = tmp_path / "out" / "x.wav"
    write_wav_atomic(target, np.zeros(1600, dtype=np.float32))
    assert sf.info(str(target)).samplerate == 16_000
    assert [p.name for p in target.parent.iterdir()] == ["x.wav"]
