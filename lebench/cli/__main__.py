import sys

from lebench.cli import main

sys.exit(main())
