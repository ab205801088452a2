from LoggerPlugin import LoggerPlugin


class Plugin(LoggerPlugin):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setDeviceName("Thermo")
