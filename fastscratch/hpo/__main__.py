"""``python -m fastscratch.hpo ACTION ...`` (the same as ``fastscratch hpo ACTION ...``)."""
import sys

from .cli import main

sys.exit(main())
