"""A helper module beside the plugin, imported the way RTOC plugins do."""


def scale(n):
    return 2.0 * n
