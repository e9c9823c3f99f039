"""lebench: the command line and shared helpers of the LeBenchmark toolkit."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "configs"
PLUGIN_DIR = REPO_ROOT / "fairseq_ext"
