"""``python -m fastscratch.benchtools``: the report, check and suggest commands."""
from .cli import main

raise SystemExit(main())
