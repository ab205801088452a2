from LoggerPlugin import LoggerPlugin


class Plugin(LoggerPlugin):
    pass
