"""Errors a person can act on, raised where configuration or connectivity is checked."""


class ConfigError(Exception):
    """A setting is missing, malformed or points at something unreachable.

    The message names the environment variable, so the CLI can print it as one line.
    """
