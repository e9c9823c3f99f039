"""lebench: pretrain, evaluate and publish French wav2vec2 models (the LeBenchmark recipe).

fairseq itself is not in ``install_requires``: the distribution we use (ve-fairseq 0.12.3,
see README "Why ve-fairseq") declares torchaudio, which must not be installed here, so it is
installed with ``--no-deps`` from ``requirements-fairseq.txt`` and its real runtime
dependencies are listed below. ``make`` does both steps.
"""
from setuptools import find_packages, setup

LIBRARY_FOLDERS = ("configs", "manifests", "pretrain", "downstream", "slurm")

FAIRSEQ_RUNTIME = [
    "cffi",
    "cython",
    "hydra-core>=1.3.2,<1.4",
    "omegaconf>=2.3,<2.4",
    "regex",
    "sacrebleu>=2",  # 2.x: the metric objects whose signature AST results store
    "bitarray",
    "scikit-learn",
    "packaging",
]

setup(
    name="lebench",
    version="0.1.0",
    description="Reproducible self-supervised speech pretraining and evaluation for French",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    # One namespace, ``lebench``, whose subpackages keep the repository's top-level folders,
    # plus the fairseq plugin, whose import name fairseq's ``common.user_dir`` fixes.
    package_dir={"lebench": "lebench", "fairseq_ext": "fairseq_ext",
                 **{f"lebench.{name}": name for name in LIBRARY_FOLDERS}},
    packages=["lebench", *(f"lebench.{p}" for p in find_packages(where="lebench")),
              "fairseq_ext", *(f"fairseq_ext.{p}" for p in find_packages(where="fairseq_ext")),
              *(f"lebench.{name}{'.' + p if p else ''}" for name in LIBRARY_FOLDERS
                for p in ["", *find_packages(where=name)])],
    package_data={"lebench.configs": ["*/*.yaml", "*/*/*.yaml"],
                  "lebench.manifests": ["corpora/seed_table.tsv", "demo/sentences.tsv"],
                  "lebench.pretrain": ["seed_models.tsv"], "lebench.pretrain.hf": ["verify.flac"]},
    install_requires=[
        # The CPU wheel pinned here is what the Makefile installs; a looser range would let
        # pip fetch a newer CUDA build (several GB).
        "torch==2.13.0",
        *FAIRSEQ_RUNTIME,
        "numpy>=1.24",
        "soundfile>=0.12",
        "soxr>=0.3",
        "tqdm",
        "PyYAML",
        "transformers>=5",  # its hidden_states convention (verify, downstream) is 5.x's
        "safetensors",
        "pyarrow",  # fairseq keeps manifest paths in Arrow arrays: far less memory per worker
        "editdistance",  # WER / CER
        "num2words",  # the French normaliser spells numbers out
        "matplotlib",  # report plots
        "joblib",  # HuBERT's k-means models, saved as its recipe saves them
        "sentencepiece",  # speech translation targets
    ],
    # jiwer: the independent WER/CER the metric tests compare with (sklearn and sacrebleu
    # are runtime dependencies already); kaldi-native-fbank: the independent Kaldi MFCC the
    # label pipeline's is compared with; pytest-xdist: `make test` runs two workers
    extras_require={"test": ["pytest>=7", "pytest-xdist>=3", "jiwer>=3", "kaldi-native-fbank>=1.22"]},
    entry_points={"console_scripts": ["lebench=lebench.cli:main"]},
)
