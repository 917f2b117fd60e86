"""What the ``fastscratch`` subcommands share: UsageError, raised for options that parse one by
one but do not fit together (cli.main reports it with the subcommand's usage and exit code 2),
and the positive_int option type."""
import argparse


class UsageError(Exception):
    """Options that parse one by one but do not fit together; reported with exit code 2."""


def positive_int(text):
    """An argparse type: a positive int (for the options of any subcommand)."""
    from . import validation
    try:
        return validation.positive_int("value", int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
