"""UsageError: what the ``fastscratch`` subcommands raise for options that parse one by one but
do not fit together; cli.main reports it with the subcommand's usage and exit code 2."""


class UsageError(Exception):
    """Options that parse one by one but do not fit together; reported with exit code 2."""
